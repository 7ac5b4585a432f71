/**
 * SentencePiece unigram models (.model / .spm files, Marian's tokenizers), read from their protobuf
 * and run as the sentencepiece library does:
 *   1. normalize: the model's precompiled character map (a darts-clone double-array trie over UTF-8
 *      bytes, longest match wins; nmt_nfkc for most models), then whitespace rules: leading,
 *      trailing and repeated spaces dropped, a dummy prefix space, spaces written as '▁';
 *   2. segment: Viterbi over the pieces' log-probabilities (the best-scoring segmentation, sums
 *      in float32 as sentencepiece adds them, so near-ties break the same way); a character no
 *      piece covers is an unknown piece scored min_score - 10, and runs of unknown characters
 *      become one unknown piece; user-defined pieces are matched on the raw text, before the
 *      character map, and win (scored length * max(max_score, FLT_MIN) - 0.1 as sentencepiece does);
 *   3. decode: pieces joined, '▁' back to spaces, the dummy prefix space removed.
 * BPE, word and char models, byte fallback and whitespace-as-suffix are errors naming them.
 */

const SPACE = '\u2581';  // '▁'
const UNK_PENALTY = 10;
const FLT_MIN = 1.1754943508222875e-38;
const f32 = Math.fround;

/** Piece types of sentencepiece_model.proto. */
const enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

interface Piece { piece: string; score: number; type: PieceType }

/** A protobuf reader for the few fields needed: varints, 32-bit floats, length-delimited bytes. */
class Proto {
  private pos = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get done(): boolean { return this.pos >= this.bytes.length; }
  private fail(): never { throw new RangeError(`${this.what}: not a SentencePiece model (malformed protobuf at byte ${this.pos})`); }
  varint(): number {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; ++i) {
      if (this.pos >= this.bytes.length) this.fail();
      const b = this.bytes[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    return this.fail();
  }
  /** The next field: number, wire type, and its payload (a number, or bytes for wire type 2). */
  field(): { no: number; wire: number; num: number; bytes: Uint8Array | null } {
    const key = this.varint(), no = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) return { no, wire, num: this.varint(), bytes: null };
    if (wire === 5) {
      if (this.pos + 4 > this.bytes.length) this.fail();
      const num = this.view.getFloat32(this.pos, true);
      this.pos += 4;
      return { no, wire, num, bytes: null };
    }
    if (wire === 1) {
      if (this.pos + 8 > this.bytes.length) this.fail();
      this.pos += 8;
      return { no, wire, num: 0, bytes: null };
    }
    if (wire === 2) {
      const n = this.varint();
      if (this.pos + n > this.bytes.length) this.fail();
      const bytes = this.bytes.subarray(this.pos, this.pos + n);
      this.pos += n;
      return { no, wire, num: 0, bytes };
    }
    return this.fail();
  }
}

/** A darts-clone double array: the common-prefix search sentencepiece's normalizer runs. */
class DoubleArray {
  constructor(private readonly units: Uint32Array) {}
  /** The longest key that prefixes bytes[at..]: its value and length, or null. */
  longestPrefix(bytes: Uint8Array, at: number): { value: number; length: number } | null {
    const u = this.units;
    if (u.length === 0) return null;
    const offset = (x: number): number => (x >>> 10) << ((x & (1 << 9)) >>> 6);
    let best: { value: number; length: number } | null = null;
    let node = offset(u[0]!);
    for (let i = at; i < bytes.length; ++i) {
      const c = bytes[i]!;
      node ^= c;
      if (node >= u.length) break;
      const unit = u[node]!;
      if ((unit & 0x800000ff) >>> 0 !== c) break;  // label (bit 31 set on leaves, so they never match)
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        if (node >= u.length) break;
        best = { value: u[node]! & 0x7fffffff, length: i - at + 1 };
      }
    }
    return best;
  }
}

export class SentencePieceModel {
  readonly pieces: readonly Piece[];
  private readonly index = new Map<string, number>();
  private readonly maxPieceChars: number;
  /** Id of the unknown piece. */
  readonly unkId: number;
  private readonly unkScore: number;
  private readonly maxScore: number;
  private readonly trie: DoubleArray | null;
  private readonly normalized: Uint8Array;
  private readonly addDummyPrefix: boolean;
  private readonly removeExtraWhitespaces: boolean;
  private readonly escapeWhitespaces: boolean;
  /** User-defined pieces as UTF-8, longest first: matched on the raw text before normalization. */
  private readonly userDefined: Uint8Array[];
  private readonly utf8 = new TextEncoder();
  // ignoreBOM: a U+FEFF in the text is a character like any other, not a byte-order mark to drop.
  private readonly text = new TextDecoder('utf-8', { ignoreBOM: true });

  /** Parses a serialized ModelProto; `what` (a file name) labels errors. */
  constructor(bytes: Uint8Array, what = 'SentencePiece model') {
    const pieces: Piece[] = [];
    let modelType = 1, byteFallback = false, suffix = false;
    let charsmap: Uint8Array | null = null, dummy = true, extra = true, escape = true;
    const top = new Proto(bytes, what);
    while (!top.done) {
      const f = top.field();
      if (f.no === 1 && f.bytes) {
        const p = new Proto(f.bytes, what);
        const piece: Piece = { piece: '', score: 0, type: PieceType.Normal };
        while (!p.done) {
          const g = p.field();
          if (g.no === 1 && g.bytes) piece.piece = this.text.decode(g.bytes);
          else if (g.no === 2 && g.wire === 5) piece.score = g.num;
          else if (g.no === 3 && g.wire === 0) piece.type = g.num as PieceType;
        }
        pieces.push(piece);
      } else if (f.no === 2 && f.bytes) {  // TrainerSpec
        const t = new Proto(f.bytes, what);
        while (!t.done) {
          const g = t.field();
          if (g.no === 3 && g.wire === 0) modelType = g.num;
          else if (g.no === 35 && g.wire === 0) byteFallback = g.num !== 0;
          else if (g.no === 24 && g.wire === 0) suffix = g.num !== 0;
        }
      } else if (f.no === 3 && f.bytes) {  // NormalizerSpec
        const n = new Proto(f.bytes, what);
        while (!n.done) {
          const g = n.field();
          if (g.no === 2 && g.bytes) charsmap = g.bytes;
          else if (g.no === 3 && g.wire === 0) dummy = g.num !== 0;
          else if (g.no === 4 && g.wire === 0) extra = g.num !== 0;
          else if (g.no === 5 && g.wire === 0) escape = g.num !== 0;
        }
      }
    }
    if (pieces.length === 0) throw new RangeError(`${what}: not a SentencePiece model (no pieces)`);
    if (modelType !== 1) throw new RangeError(`${what}: model type ${['', 'unigram', 'BPE', 'word', 'char'][modelType] ?? modelType} is not supported (only unigram)`);
    if (byteFallback) throw new RangeError(`${what}: byte_fallback is not supported`);
    if (suffix) throw new RangeError(`${what}: treat_whitespace_as_suffix is not supported`);
    this.pieces = pieces;
    let maxChars = 1, min = Infinity, max = -Infinity, unk = -1;
    pieces.forEach((p, i) => {
      if (p.type === PieceType.Unknown) unk = i;
      if (p.type !== PieceType.Normal && p.type !== PieceType.UserDefined) return;
      if (!this.index.has(p.piece)) this.index.set(p.piece, i);
      maxChars = Math.max(maxChars, [...p.piece].length);
      if (p.type === PieceType.Normal) { min = Math.min(min, p.score); max = Math.max(max, p.score); }
    });
    if (unk < 0) throw new RangeError(`${what}: no unknown piece`);
    this.unkId = unk;
    this.maxPieceChars = maxChars;
    this.unkScore = f32(min - UNK_PENALTY);
    this.maxScore = Math.max(max, FLT_MIN);  // sentencepiece starts its maximum at FLT_MIN
    this.userDefined = pieces.filter((p) => p.type === PieceType.UserDefined && p.piece.length > 0)
      .map((p) => this.utf8.encode(p.piece)).sort((a, b) => b.length - a.length);
    // precompiled_charsmap: [trie size: uint32 LE][trie units: uint32 LE][normalized strings, NUL-terminated]
    if (charsmap && charsmap.length >= 4) {
      const dv = new DataView(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength);
      const size = dv.getUint32(0, true);
      if (size % 4 !== 0 || 4 + size > charsmap.length) throw new RangeError(`${what}: corrupt precompiled_charsmap`);
      const units = new Uint32Array(size / 4);
      for (let i = 0; i < units.length; ++i) units[i] = dv.getUint32(4 + 4 * i, true);
      this.trie = new DoubleArray(units);
      this.normalized = charsmap.subarray(4 + size);
    } else {
      this.trie = null;
      this.normalized = new Uint8Array(0);
    }
    this.addDummyPrefix = dummy;
    this.removeExtraWhitespaces = extra;
    this.escapeWhitespaces = escape;
  }

  get size(): number { return this.pieces.length; }

  /** The model's id of a piece, or undefined. */
  pieceId(piece: string): number | undefined { return this.index.get(piece); }

  /** The text as the model sees it before segmentation (sentencepiece's Normalize). */
  normalize(text: string): string {
    checkText(text);
    if (text === '') return '';
    const bytes = this.utf8.encode(text);
    const chunk = (at: number): [string, number] => {
      for (const u of this.userDefined) {  // longest first: passed through as they are
        if (at + u.length > bytes.length) continue;
        let k = 0;
        while (k < u.length && bytes[at + k] === u[k]) ++k;
        if (k === u.length) return [this.text.decode(u), u.length];
      }
      const m = this.trie?.longestPrefix(bytes, at) ?? null;
      if (m) {
        let end = m.value;
        while (end < this.normalized.length && this.normalized[end] !== 0) ++end;
        return [this.text.decode(this.normalized.subarray(m.value, end)), m.length];
      }
      // One UTF-8 character (an invalid byte becomes U+FFFD, consuming one byte).
      const b = bytes[at]!;
      const n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      const s = this.text.decode(bytes.subarray(at, Math.min(at + n, bytes.length)));
      return s.includes('\ufffd') ? ['\ufffd', 1] : [s, n];
    };
    let at = 0;
    if (this.removeExtraWhitespaces) {
      while (at < bytes.length) {
        const [s, n] = chunk(at);
        if (s !== ' ') break;
        at += n;
      }
    }
    const space = this.escapeWhitespaces ? SPACE : ' ';
    let out = this.addDummyPrefix ? space : '';
    let prevSpace = this.removeExtraWhitespaces;
    while (at < bytes.length) {
      let [s, n] = chunk(at);
      if (prevSpace) while (s.startsWith(' ')) s = s.slice(1);
      if (s.length) {
        out += this.escapeWhitespaces ? s.replaceAll(' ', SPACE) : s;
        prevSpace = s.endsWith(' ') && this.removeExtraWhitespaces;
      }
      at += n;
    }
    if (this.removeExtraWhitespaces) while (out.endsWith(space)) out = out.slice(0, -space.length);
    return out;
  }

  /**
   * The best segmentation of the normalized text: [piece string, id] pairs, unknown runs as one
   * piece with the unknown id (their text is the original characters, as sentencepiece returns).
   */
  encode(text: string): { piece: string; id: number }[] {
    const chars = [...this.normalize(text)];
    const n = chars.length;
    // best[i]: the best path over chars[0..i): score, where its last piece starts, its id.
    const score = new Float32Array(n + 1).fill(-Infinity), from = new Int32Array(n + 1).fill(-1), ids = new Int32Array(n + 1);
    score[0] = 0;
    for (let s = 0; s < n; ++s) {
      if (score[s] === -Infinity) continue;
      let single = false;
      let piece = '';
      for (let len = 1; len <= this.maxPieceChars && s + len <= n; ++len) {
        piece += chars[s + len - 1]!;
        const id = this.index.get(piece);
        if (id === undefined) continue;
        const p = this.pieces[id]!;
        // User-defined pieces win over their parts, as sentencepiece scores them (length in bytes).
        const sc = p.type === PieceType.UserDefined ? f32(f32(this.utf8.encode(piece).length * this.maxScore) - 0.1) : p.score;
        if (len === 1) single = true;
        const total = f32(score[s]! + sc);
        if (from[s + len] === -1 || total > score[s + len]!) { score[s + len] = total; from[s + len] = s; ids[s + len] = id; }
      }
      if (!single) {
        const total = f32(score[s]! + this.unkScore);
        if (from[s + 1] === -1 || total > score[s + 1]!) { score[s + 1] = total; from[s + 1] = s; ids[s + 1] = this.unkId; }
      }
    }
    const out: { piece: string; id: number }[] = [];
    for (let e = n; e > 0; e = from[e]!) out.push({ piece: chars.slice(from[e]!, e).join(''), id: ids[e]! });
    out.reverse();
    // Runs of unknown pieces merge into one.
    const merged: { piece: string; id: number }[] = [];
    for (const p of out) {
      const last = merged[merged.length - 1];
      if (last && last.id === this.unkId && p.id === this.unkId) last.piece += p.piece;
      else merged.push({ ...p });
    }
    return merged;
  }

  /**
   * Text of pieces (sentencepiece's DecodePieces): '▁' as spaces; the dummy prefix space is
   * dropped from the first piece, and from the ones after it while they come out empty.
   */
  decodePieces(pieces: readonly string[]): string {
    let out = '', atStart = this.addDummyPrefix;
    for (let p of pieces) {
      if (atStart) {
        if (p.startsWith(SPACE)) p = p.slice(1);
        if (p.length) atStart = false;
      }
      out += p;
    }
    return out.replaceAll(SPACE, ' ');
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text must be valid Unicode: a lone surrogate has no UTF-8 form (transformers raises on it too). */
export function checkText(text: unknown, name = 'text'): asserts text is string {
  if (typeof text !== 'string') throw new TypeError(`${name} must be a string`);
  const m = LONE_SURROGATE.exec(text);
  if (m) throw new RangeError(`${name} has a lone surrogate (U+${m[0].charCodeAt(0).toString(16).toUpperCase()}) at index ${m.index}: not valid Unicode`);
}
