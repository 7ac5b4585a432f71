/**
 * Parses and validates the header of a safetensors file, following the reference implementation
 * (huggingface/safetensors): 8-byte little-endian length N, N bytes of UTF-8 JSON starting with '{'
 * (space padding allowed), then a data buffer that the tensors cover exactly: no overlap, no hole,
 * nothing after the last tensor. Every problem names the file and, where there is one, the tensor.
 */
import { DTYPE_SIZES, SUB_BYTE_DTYPES, isDtype, type Dtype } from './dtypes.js';
import { SafetensorsError } from './errors.js';

/** The reference reader refuses headers above 100 MB; so do we (a corrupt length would ask for gigabytes). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface HeaderEntry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Byte range [begin, end) relative to the start of the data buffer. */
  readonly begin: number;
  readonly end: number;
}

export interface ParsedHeader {
  /** Offset of the data buffer in the file: 8 + N. */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in data order (ascending offsets), the order the reference writer lays them out. */
  readonly entries: readonly HeaderEntry[];
}

const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'];

export function parseHeader(buf: Uint8Array, file: string): ParsedHeader {
  const fail = (problem: string, tensor?: string): never => { throw new SafetensorsError(file, tensor, problem); };
  if (buf.length < 8) fail(`truncated: ${buf.length} bytes, too short for the 8-byte header length`);
  const n64 = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(buf.length - 8)) {
    fail(`header length ${n64} is beyond the end of the file (${buf.length} bytes): truncated or not a safetensors file`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`header must start with '{', got ${n === 0 ? 'an empty header' : JSON.stringify(text.slice(0, 16))}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  const dup = findDuplicateKey(text);
  if (dup) fail(dup.length === 1 ? 'appears twice in the header' : `duplicate key '${dup.slice(1).join('.')}'`, dup[0]);

  const header = json as Record<string, unknown>; // starts with '{' and parsed: an object
  const dataLength = buf.length - 8 - n;
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(value, fail);
      continue;
    }
    entries.push(checkEntry(name, value, dataLength, fail));
  }
  checkCoverage(entries, dataLength, fail);
  return { dataStart: 8 + n, metadata, entries };
}

type Fail = (problem: string, tensor?: string) => never;

function checkMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('__metadata__ must be an object of strings');
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) if (typeof v !== 'string') fail(`__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
  return Object.fromEntries(entries) as Record<string, string>; // fromEntries: a "__proto__" key stays a key
}

function checkEntry(name: string, value: unknown, dataLength: number, fail: Fail): HeaderEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('entry must be an object with dtype, shape and data_offsets', name);
  const e = value as Record<string, unknown>;
  for (const k of Object.keys(e)) if (!ENTRY_FIELDS.includes(k)) fail(`unknown field '${k}' (expected dtype, shape, data_offsets)`, name);
  for (const k of ENTRY_FIELDS) if (!(k in e)) fail(`missing field '${k}'`, name);
  const { dtype, shape, data_offsets: offsets } = e;
  if (typeof dtype !== 'string') return fail(`dtype must be a string, got ${JSON.stringify(dtype)}`, name);
  if (!isDtype(dtype)) {
    fail(SUB_BYTE_DTYPES.includes(dtype)
      ? `dtype ${dtype} (packed sub-byte) is not supported`
      : `unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_SIZES).join(', ')})`, name);
  }
  const dt = dtype as Dtype;
  if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`, name);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    fail(`data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`, name);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`, name);
  if (end > dataLength) {
    fail(`data_offsets [${begin}, ${end}] are beyond the data buffer (${dataLength} bytes): file truncated or offsets corrupt`, name);
  }
  // Multiply with a cap, so that absurd shapes cannot overflow into a false match.
  let bytes: number = DTYPE_SIZES[dt];
  for (const d of shape as number[]) bytes = Math.min(bytes * d, Number.MAX_SAFE_INTEGER);
  if (bytes !== end - begin) {
    fail(`data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dt} ${JSON.stringify(shape)} needs ${bytes}`, name);
  }
  return { name, dtype: dt, shape: shape as number[], begin, end };
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The tensors must tile [0, dataLength) exactly, as the reference reader demands (no polyglot files). */
function checkCoverage(entries: HeaderEntry[], dataLength: number, fail: Fail): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: HeaderEntry | undefined;
  for (const e of entries) {
    if (e.begin < at) fail(`data_offsets [${e.begin}, ${e.end}] overlap tensor '${prev?.name}' [${prev?.begin}, ${prev?.end}]`, e.name);
    if (e.begin > at) fail(`bytes [${at}, ${e.begin}) of the data buffer belong to no tensor (holes are not allowed)`, e.name);
    at = e.end;
    prev = e;
  }
  if (at !== dataLength) fail(`${dataLength - at} bytes after the last tensor (at ${at}) belong to no tensor`);
}

/**
 * JSON.parse keeps the last of duplicate keys silently; the format forbids them. Scans text that
 * JSON.parse accepted and returns the path of the first duplicate key (outermost first), if any.
 */
function findDuplicateKey(text: string): string[] | undefined {
  const stack: { keys: Set<string> | null; expectKey: boolean; key: string }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return [...stack.slice(0, -1).map((s) => s.key), key];
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push({ keys: new Set(), expectKey: true, key: '' });
    } else if (c === '[') {
      stack.push({ keys: null, expectKey: false, key: '' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return undefined;
}
