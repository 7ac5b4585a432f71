// safetensors reading and writing: the Hugging Face fixtures (names, shapes, values, byte-identical
// re-encoding), dtype conversions, the writer's layout, and every malformed-file error naming the
// file and the tensor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SafetensorsError, encodeSafetensors, encodeSafetensorsChunks, parseSafetensors, readSafetensors,
  readSafetensorsSync, writeSafetensors, writeSafetensorsSync, type WritableTensor,
} from '../dist/io/index.js';

const HF = path.join(import.meta.dirname, 'fixtures', 'hf');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from a header (object or raw text) and data bytes, padded like the reference writer unless told. */
function rawFile(header: unknown, data: ArrayLike<number> = [], pad = true): Uint8Array {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const json = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}
const f32Bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const u16Bytes = (...v: number[]) => new Uint8Array(Uint16Array.from(v).buffer);

/** Runs fn, expects a SafetensorsError, and returns it for further checks. */
function stError(fn: () => unknown): SafetensorsError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(SafetensorsError); return e as SafetensorsError; }
  throw new Error('expected a SafetensorsError');
}

describe('Hugging Face fixtures', () => {
  it('lists names, shapes and metadata of model.safetensors', async () => {
    const marian = await readSafetensors(`${HF}/marian-a/model.safetensors`);
    const bart = readSafetensorsSync(`${HF}/bart-a/model.safetensors`);
    expect(marian.metadata).toEqual({ format: 'pt' });
    expect(marian.names()).toHaveLength(86);
    expect(bart.names()).toHaveLength(92);
    expect(marian.info('model.shared.weight')).toEqual({ dtype: 'F32', shape: [96, 32], dataOffsets: expect.any(Array) });
    expect(marian.info('final_logits_bias').shape).toEqual([1, 96]);
    expect(marian.info('model.encoder.layers.1.fc1.weight').shape).toEqual([64, 32]);
    expect(marian.has('model.encoder.embed_positions.weight')).toBe(false); // sinusoidal: not saved
    expect(bart.info('model.decoder.embed_positions.weight').shape).toEqual([66, 32]); // 64 + offset 2
    expect(bart.has('model.encoder.layernorm_embedding.weight')).toBe(true);
    // The reference writer lays same-dtype tensors out by name.
    expect(marian.names()).toEqual([...marian.names()].sort());
  });

  it('reads the values numpy reads', async () => {
    const marian = await readSafetensors(`${HF}/marian-a/model.safetensors`, { finite: true });
    const w = marian.float32('model.shared.weight');
    expect(w).toHaveLength(96 * 32);
    expect(Array.from(w.subarray(0, 3))).toEqual([-0.013188461773097515, 0.037297483533620834, -0.014287387952208519]);
    expect(w[w.length - 1]).toBe(0); // the pad row (id 95) of Marian's embedding is zero
    const ref = await readSafetensors(`${HF}/bart-a/reference.safetensors`);
    expect(ref.metadata).toEqual({});
    expect(ref.info('logits').shape).toEqual([3, 7, 96]);
    const logits = ref.float32('logits');
    expect([logits[0], logits[1], logits[2], logits[logits.length - 1]])
      .toEqual([-0.09240079671144485, 0, 0.5039336681365967, 0.0864243134856224]);
    expect(ref.info('encoder_last_hidden_state').shape).toEqual([3, 9, 32]);
    expect(ref.names().filter((n) => n.startsWith('grad.'))).toHaveLength(6);
  });

  it.each(['marian-a/model.safetensors', 'bart-a/model.safetensors', 'marian-a/reference.safetensors', 'bart-a/reference.safetensors'])(
    're-encodes %s to the same bytes', async (name) => {
      const file = `${HF}/${name}`;
      const original = fs.readFileSync(file);
      const st = parseSafetensors(original, { file });
      const tensors = new Map(st.names().map((n) => [n, { shape: st.info(n).shape, data: st.float32(n) }]));
      const metadata = Object.keys(st.metadata).length ? st.metadata : undefined;
      expect(Buffer.from(encodeSafetensors(tensors, { metadata })).equals(original)).toBe(true);
      // And through a file, written then read back, bit for bit.
      const out = path.join(tmp, name.replace('/', '-'));
      await writeSafetensors(out, tensors, { metadata });
      expect(fs.readFileSync(out).equals(original)).toBe(true);
      const back = await readSafetensors(out);
      for (const n of st.names()) expect(Buffer.from(back.raw(n)).equals(Buffer.from(st.raw(n)))).toBe(true);
    });
});

describe('dtype conversions', () => {
  it('F16, BF16 and F64 to float32', () => {
    const f16 = u16Bytes(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00, 0x8000);
    const bf16 = u16Bytes(0x3f80, 0xc040, 0x0001, 0xff80);
    const f64 = new Uint8Array(Float64Array.from([1 / 3, -2.5, 1e-40]).buffer);
    const st = parseSafetensors(rawFile({
      h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] },
      b: { dtype: 'BF16', shape: [2, 2], data_offsets: [14, 22] },
      d: { dtype: 'F64', shape: [3], data_offsets: [22, 46] },
    }, [...f16, ...bf16, ...f64]));
    expect(Array.from(st.float32('h'))).toEqual([1, -2, 0.5, 65504, 2 ** -24, Infinity, -0]);
    const b = st.float32('b');
    expect(Array.from(new Uint32Array(b.buffer))).toEqual([0x3f800000, 0xc0400000, 0x00010000, 0xff800000]);
    expect(Array.from(st.float32('d'))).toEqual([Math.fround(1 / 3), -2.5, Math.fround(1e-40)]);
  });

  it('F64 beyond the float32 range is an error, not a silent infinity', () => {
    const st = parseSafetensors(rawFile({ d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } },
      new Uint8Array(Float64Array.from([1, 1e300]).buffer)), { file: 'big.safetensors' });
    const e = stError(() => st.float32('d'));
    expect(e.message).toMatch(/^big\.safetensors: tensor 'd': F64 value 1e\+300 at index 1 is beyond the float32 range/);
    expect(e.tensor).toBe('d');
  });

  it('integers to int32, range-checked; I64 kept whole as BigInt64Array', () => {
    const i64 = new Uint8Array(BigInt64Array.from([1n, -5n, 2147483647n, -2147483648n]).buffer);
    const big = new Uint8Array(BigInt64Array.from([1n << 40n]).buffer);
    const st = parseSafetensors(rawFile({
      a: { dtype: 'I64', shape: [4], data_offsets: [0, 32] },
      big: { dtype: 'I64', shape: [1], data_offsets: [32, 40] },
      u: { dtype: 'U8', shape: [3], data_offsets: [40, 43] },
      m: { dtype: 'BOOL', shape: [2], data_offsets: [43, 45] },
      x: { dtype: 'BOOL', shape: [1], data_offsets: [45, 46] },
      s: { dtype: 'I16', shape: [1], data_offsets: [46, 48] },
      f8: { dtype: 'F8_E4M3', shape: [2], data_offsets: [48, 50] },
    }, [...i64, ...big, 7, 255, 0, 1, 0, 2, 0xfe, 0xff, 0x38, 0x40]));
    expect(Array.from(st.int32('a'))).toEqual([1, -5, 2147483647, -2147483648]);
    expect(stError(() => st.int32('big')).message).toMatch(/tensor 'big': I64 value 1099511627776 at index 0 is beyond the int32 range/);
    expect(Array.from(st.bigint64('big'))).toEqual([1n << 40n]);
    expect(Array.from(st.int32('u'))).toEqual([7, 255, 0]);
    expect(Array.from(st.int32('m'))).toEqual([1, 0]);
    expect(stError(() => st.int32('x')).message).toMatch(/BOOL byte 2 at index 0 is neither 0 nor 1/);
    expect(Array.from(st.int32('s'))).toEqual([-2]);
    expect(stError(() => st.float32('f8')).message).toMatch(/tensor 'f8': dtype F8_E4M3 does not convert to float32.*raw bytes/);
    expect(Array.from(st.raw('f8'))).toEqual([0x38, 0x40]);
    expect(stError(() => st.float32('a')).message).toMatch(/dtype I64 does not convert to float32/);
    expect(stError(() => st.int32('f8')).message).toMatch(/dtype F8_E4M3 does not convert to int32/);
  });

  it('reads tensors at unaligned offsets in an unaligned buffer', () => {
    const file = rawFile({ b: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, f: { dtype: 'F32', shape: [2], data_offsets: [1, 9] } },
      [9, ...f32Bytes(1.5, -3)]);
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const st = parseSafetensors(shifted.subarray(1));
    expect(Array.from(st.float32('f'))).toEqual([1.5, -3]);
  });

  it('conversions copy: changing the result leaves the file buffer alone', () => {
    const bytes = rawFile({ f: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32Bytes(2));
    const st = parseSafetensors(bytes);
    st.float32('f')[0] = 7;
    expect(st.float32('f')[0]).toBe(2);
  });
});

describe('writer', () => {
  const tensors = new Map<string, WritableTensor>([
    ['z.f', { shape: [2], data: Float32Array.from([1, 2]) }],
    ['a.i32', { shape: [3], data: Int32Array.from([1, -2, 3]) }],
    ['m.i64', { shape: [2], data: BigInt64Array.from([-(1n << 62n), 5n]) }],
    ['b.i64wide', { shape: [1, 2], data: Int32Array.from([-7, 8]), dtype: 'I64' }],
    ['scalar', { shape: [], data: Float32Array.from([0.25]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ]);

  it('lays out like the reference writer: larger dtypes first, then by name; 8-aligned data', () => {
    const bytes = encodeSafetensors(tensors, { metadata: { format: 'pt', note: 'x"y' } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    expect(header.startsWith('{"__metadata__":{"format":"pt","note":"x\\"y"},"b.i64wide":')).toBe(true);
    const st = parseSafetensors(bytes);
    expect(st.names()).toEqual(['b.i64wide', 'm.i64', 'empty', 'scalar', 'z.f', 'a.i32']);
    for (const name of st.names()) {
      const { dtype, dataOffsets } = st.info(name);
      expect(dataOffsets[0] % (dtype === 'I64' ? 8 : 4)).toBe(0);
    }
    expect(st.metadata).toEqual({ format: 'pt', note: 'x"y' });
    expect(Array.from(st.bigint64('b.i64wide'))).toEqual([-7n, 8n]);
    expect(Array.from(st.bigint64('m.i64'))).toEqual([-(1n << 62n), 5n]);
    expect(Array.from(st.int32('a.i32'))).toEqual([1, -2, 3]);
    expect(st.info('scalar').shape).toEqual([]);
    expect(Array.from(st.float32('scalar'))).toEqual([0.25]);
    expect(st.info('empty')).toMatchObject({ shape: [0, 4], dataOffsets: [32, 32] });
    // Chunks view the caller's arrays instead of copying them (little-endian hosts).
    const chunks = encodeSafetensorsChunks(tensors);
    expect(chunks.some((c) => c.buffer === (tensors.get('z.f')?.data as Float32Array).buffer)).toBe(true);
  });

  it('keeps every bit of F32 data, NaN payloads included', () => {
    const bits = Uint32Array.from([0x7fc00001, 0xffa00000, 0x80000000, 0x00000001, 0x7f800000]);
    const st = parseSafetensors(encodeSafetensors({ x: { shape: [5], data: new Float32Array(bits.buffer) } }));
    expect(Array.from(new Uint32Array(st.float32('x').buffer))).toEqual(Array.from(bits));
  });

  it('writes files atomically, sync and async, and accepts a plain object of tensors', async () => {
    const a = path.join(tmp, 'w-async.safetensors');
    const b = path.join(tmp, 'w-sync.safetensors');
    await writeSafetensors(a, { t: { shape: [1], data: Float32Array.from([3]) } });
    writeSafetensorsSync(b, { t: { shape: [1], data: Float32Array.from([3]) } });
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects bad tensors and metadata, naming them', () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => encodeSafetensors({ t: { shape: [2, 2], data: f(3) } })).toThrow(RangeError);
    expect(() => encodeSafetensors({ t: { shape: [2, 2], data: f(3) } })).toThrow(/tensors\['t'\].data has 3 elements, shape \[2, 2\] needs 4/);
    expect(() => encodeSafetensors({ t: { shape: [-1], data: f(0) } })).toThrow(/tensors\['t'\].shape must be an array of non-negative integers/);
    expect(() => encodeSafetensors({ t: { shape: [1], data: new Float64Array(1) as unknown as Float32Array } })).toThrow(/Float64Array data is not supported/);
    expect(() => encodeSafetensors({ t: { shape: [1], data: f(1), dtype: 'I32' } })).toThrow(/Float32Array data cannot be written as I32/);
    expect(() => encodeSafetensors({ __metadata__: { shape: [1], data: f(1) } })).toThrow(TypeError);
    expect(() => encodeSafetensors({ '': { shape: [1], data: f(1) } })).toThrow(TypeError);
    expect(() => encodeSafetensors({ ['a\uD800']: { shape: [1], data: f(1) } })).toThrow(/unpaired surrogate/);
    expect(() => encodeSafetensors({}, { metadata: { n: 3 as unknown as string } })).toThrow(/opts.metadata.n must be a string/);
  });
});

describe('malformed files', () => {
  const good = () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
    f32Bytes(1, 2, 3));
  const bad = (bytes: Uint8Array) => stError(() => parseSafetensors(bytes, { file: 'm.safetensors' }));

  it('the good file parses', () => {
    expect(Array.from(parseSafetensors(good()).float32('a'))).toEqual([1, 2]);
  });

  it('truncated files', () => {
    expect(bad(new Uint8Array(5)).message).toBe('m.safetensors: truncated: 5 bytes, too short for the 8-byte header length');
    const g = good();
    expect(bad(g.subarray(0, 40)).message).toMatch(/^m\.safetensors: header length \d+ is beyond the end of the file \(40 bytes\)/);
    const e = bad(g.subarray(0, g.length - 2));
    expect(e.tensor).toBe('b');
    expect(e.message).toMatch(/tensor 'b': data_offsets \[8, 12\] are beyond the data buffer \(10 bytes\)/);
  });

  it('a real fixture cut short names its last tensor', async () => {
    const file = path.join(tmp, 'cut.safetensors');
    const orig = fs.readFileSync(`${HF}/marian-a/model.safetensors`);
    fs.writeFileSync(file, orig.subarray(0, orig.length - 100));
    await expect(readSafetensors(file)).rejects.toThrow(new RegExp(`^${file}: tensor 'model\\.shared\\.weight': data_offsets .* beyond the data buffer`));
  });

  it('header text problems', () => {
    expect(bad(rawFile('{"a": ')).message).toMatch(/^m\.safetensors: header is not valid JSON/);
    expect(bad(rawFile('[1,2]')).message).toMatch(/header must start with '\{', got "\[1,2\]/);
    expect(bad(rawFile(' {}')).message).toMatch(/header must start with '\{'/);
    expect(bad(rawFile('', [], false)).message).toMatch(/header must start with '\{', got an empty header/);
    const invalidUtf8 = rawFile('{"\u00e9":1}');
    invalidUtf8[11] = 0xff;
    expect(bad(invalidUtf8).message).toMatch(/header is not valid UTF-8/);
    expect(bad(rawFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')).message)
      .toMatch(/tensor 'a': appears twice in the header/);
    expect(bad(rawFile('{"a":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}}')).message).toMatch(/tensor 'a': duplicate key 'dtype'/);
    // An escaped quote inside a key does not confuse the duplicate scan.
    expect(parseSafetensors(rawFile('{"a\\"b":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a\\"c":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')).names())
      .toEqual(['a"b', 'a"c']);
  });

  it('entry problems name the tensor', () => {
    const cases: [unknown, number, RegExp][] = [
      [{ t: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, 4, /tensor 't': unknown dtype "F33" \(known: BOOL, U8/],
      [{ t: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } }, 1, /tensor 't': dtype F4 \(packed sub-byte\) is not supported/],
      [{ t: { dtype: 'F32', shape: [1] } }, 4, /tensor 't': missing field 'data_offsets'/],
      [{ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 } }, 4, /tensor 't': unknown field 'extra'/],
      [{ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4, /tensor 't': shape must be an array of non-negative integers, got \[-1\]/],
      [{ t: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4, /shape must be an array of non-negative integers/],
      [{ t: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4, /data_offsets must be \[begin, end\]/],
      [{ t: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4, /data_offsets \[4, 0\] end before they begin/],
      [{ t: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4, /tensor 't': data_offsets \[0, 4\] span 4 bytes, but F32 \[2\] needs 8/],
      [{ t: [1] }, 4, /tensor 't': entry must be an object/],
      [{ __metadata__: { a: 1 } }, 0, /__metadata__\.a must be a string, got 1/],
      [{ __metadata__: [] }, 0, /__metadata__ must be an object of strings/],
      [{ t: { dtype: 'F32', shape: [4e9, 4e9, 4e9], data_offsets: [0, 4] } }, 4, /needs 9007199254740991/],
    ];
    for (const [header, n, re] of cases) expect(bad(rawFile(header, new Uint8Array(n))).message).toMatch(re);
  });

  it('overlaps, holes and trailing bytes', () => {
    const overlap = bad(rawFile({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
    }, new Uint8Array(8)));
    expect(overlap.tensor).toBe('b');
    expect(overlap.message).toMatch(/tensor 'b': data_offsets \[4, 8\] overlap tensor 'a' \[0, 8\]/);
    expect(bad(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8))).message)
      .toMatch(/tensor 'a': bytes \[0, 4\) of the data buffer belong to no tensor \(holes are not allowed\)/);
    expect(bad(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(6))).message)
      .toMatch(/^m\.safetensors: 2 bytes after the last tensor \(at 4\) belong to no tensor/);
  });

  it('finite: true rejects NaN and infinity, naming tensor and position', () => {
    const bytes = rawFile({
      ok: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      w: { dtype: 'F32', shape: [2, 2], data_offsets: [4, 20] },
      h: { dtype: 'F16', shape: [1], data_offsets: [20, 22] },
    }, [...f32Bytes(1, 0, 1, NaN, 2), ...u16Bytes(0xfc00)]);
    const st = parseSafetensors(bytes, { file: 'n.safetensors' }); // not asked: NaN is data like any other
    expect(Number.isNaN(st.float32('w')[2])).toBe(true);
    expect(stError(() => parseSafetensors(bytes, { file: 'n.safetensors', finite: true })).message)
      .toBe("n.safetensors: tensor 'w': NaN at flat index 2 (position [1, 0]), and finite values were required");
    expect(stError(() => st.float32('h', { finite: true })).message).toMatch(/tensor 'h': -Infinity at flat index 0/);
    expect(Array.from(st.float32('ok', { finite: true }))).toEqual([1]);
    const f64 = parseSafetensors(rawFile({ d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(Float64Array.from([0, Infinity]).buffer)));
    expect(stError(() => f64.float32All({ finite: true })).message).toMatch(/tensor 'd': Infinity at flat index 1/);
    const bf = parseSafetensors(rawFile({ b: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, u16Bytes(0x7fc0)));
    expect(stError(() => bf.float32('b', { finite: true })).message).toMatch(/tensor 'b': NaN at flat index 0/);
  });

  it('a "__proto__" metadata key is kept as a key', () => {
    expect(parseSafetensors(rawFile('{"__metadata__":{"__proto__":"x"}}')).metadata).toEqual(JSON.parse('{"__proto__":"x"}'));
    expect(Object.keys(parseSafetensors(rawFile('{"__metadata__":{"__proto__":"x"}}')).metadata)).toEqual(['__proto__']);
  });

  it('asking for a tensor that is not there', () => {
    const e = stError(() => parseSafetensors(good(), { file: 'g' }).float32('nope'));
    expect(e.message).toBe("g: tensor 'nope': no such tensor in the file");
  });

  it('a missing file is the fs error', async () => {
    await expect(readSafetensors(path.join(tmp, 'absent.safetensors'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
