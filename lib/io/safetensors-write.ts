/**
 * safetensors writer. Lays tensors out as the reference writer does (huggingface/safetensors
 * `prepare`): sorted by dtype, larger elements first, then by name (UTF-8 bytes); `__metadata__`
 * first in the header; header padded with spaces to a multiple of 8 bytes, so every tensor starts
 * aligned to its element size. The data is emitted as chunks that view the caller's arrays (no
 * copy on little-endian hosts), and files are written atomically.
 */
import { writeFileAtomic, writeFileAtomicSync, type AtomicWriteOptions } from './atomic.js';
import { littleEndianBytes } from './dtypes.js';

/** A tensor to write: F32 from a Float32Array, I32 from an Int32Array, I64 from a BigInt64Array or (widened) an Int32Array. */
export interface WritableTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | BigInt64Array;
  /** Default: F32 for Float32Array, I32 for Int32Array, I64 for BigInt64Array. 'I64' with an Int32Array widens it. */
  readonly dtype?: 'F32' | 'I32' | 'I64';
}

export type WritableTensors = ReadonlyMap<string, WritableTensor> | Readonly<Record<string, WritableTensor>>;

export interface SafetensorsWriteOptions {
  /** The `__metadata__` string map (Hugging Face writes {"format": "pt"}). Omitted when absent. */
  readonly metadata?: Readonly<Record<string, string>>;
}

// Rank in the reference implementation's Dtype enum; its writer sorts by it, descending.
const RANK = { I32: 1, F32: 2, I64: 3 } as const;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Prepared { name: string; nameBytes: Buffer; dtype: 'F32' | 'I32' | 'I64'; shape: readonly number[]; bytes: Uint8Array }

function prepare(fn: string, tensors: WritableTensors): Prepared[] {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors as Record<string, WritableTensor>);
  const out: Prepared[] = [];
  for (const [name, t] of list) {
    const at = `${fn}: tensors['${name}']`;
    if (typeof name !== 'string' || name === '' || name === '__metadata__') throw new TypeError(`${at}: a tensor name must be a non-empty string other than __metadata__`);
    if (LONE_SURROGATE.test(name)) throw new TypeError(`${at}: the name has an unpaired surrogate, which UTF-8 cannot hold`);
    if (t === null || typeof t !== 'object') throw new TypeError(`${at} must be { shape, data }`);
    const { shape, data } = t;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(`${at}.shape must be an array of non-negative integers`);
    }
    const size = shape.reduce((a: number, d: number) => a * d, 1);
    let dtype: 'F32' | 'I32' | 'I64';
    let bytes: Uint8Array;
    if (data instanceof Float32Array && (t.dtype ?? 'F32') === 'F32') {
      dtype = 'F32'; bytes = littleEndianBytes(data);
    } else if (data instanceof Int32Array && (t.dtype ?? 'I32') === 'I32') {
      dtype = 'I32'; bytes = littleEndianBytes(data);
    } else if (data instanceof Int32Array && t.dtype === 'I64') {
      dtype = 'I64'; bytes = littleEndianBytes(BigInt64Array.from(data, (v) => BigInt(v)));
    } else if (data instanceof BigInt64Array && (t.dtype ?? 'I64') === 'I64') {
      dtype = 'I64'; bytes = littleEndianBytes(data);
    } else {
      const kind = (data as { constructor?: { name?: string } } | null)?.constructor?.name ?? String(data);
      throw new TypeError(`${at}: ${kind} data ${t.dtype ? `cannot be written as ${t.dtype}` : 'is not supported'} (F32: Float32Array; I32: Int32Array; I64: BigInt64Array or Int32Array)`);
    }
    if (data.length !== size) throw new RangeError(`${at}.data has ${data.length} elements, shape [${shape.join(', ')}] needs ${size}`);
    out.push({ name, nameBytes: Buffer.from(name, 'utf8'), dtype, shape, bytes });
  }
  out.sort((a, b) => RANK[b.dtype] - RANK[a.dtype] || Buffer.compare(a.nameBytes, b.nameBytes));
  return out;
}

function headerBytes(fn: string, list: Prepared[], metadata: Readonly<Record<string, string>> | undefined): Uint8Array {
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new TypeError(`${fn}: opts.metadata must be an object of strings`);
    const fields = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== 'string') throw new TypeError(`${fn}: opts.metadata.${k} must be a string, got ${typeof v}`);
      if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) throw new TypeError(`${fn}: opts.metadata.${k} has an unpaired surrogate`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${fields.join(',')}}`);
  }
  let offset = 0;
  for (const t of list) {
    const end = offset + t.bytes.length;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function chunks(fn: string, tensors: WritableTensors, opts: SafetensorsWriteOptions | undefined): Uint8Array[] {
  const list = prepare(fn, tensors);
  return [headerBytes(fn, list, opts?.metadata), ...list.map((t) => t.bytes)];
}

/** The file as a list of chunks: the header, then each tensor's bytes (views of the input arrays where possible). */
export function encodeSafetensorsChunks(tensors: WritableTensors, opts?: SafetensorsWriteOptions): Uint8Array[] {
  return chunks('encodeSafetensorsChunks', tensors, opts);
}

/** The whole file in one new buffer. */
export function encodeSafetensors(tensors: WritableTensors, opts?: SafetensorsWriteOptions): Uint8Array {
  const parts = chunks('encodeSafetensors', tensors, opts);
  const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of parts) { out.set(c, at); at += c.length; }
  return out;
}

/** Writes a safetensors file atomically (the previous file stays intact until the new one is complete). */
export async function writeSafetensors(file: string, tensors: WritableTensors, opts?: SafetensorsWriteOptions & AtomicWriteOptions): Promise<void> {
  await writeFileAtomic(file, chunks('writeSafetensors', tensors, opts), opts);
}

export function writeSafetensorsSync(file: string, tensors: WritableTensors, opts?: SafetensorsWriteOptions & AtomicWriteOptions): void {
  writeFileAtomicSync(file, chunks('writeSafetensorsSync', tensors, opts), opts);
}
