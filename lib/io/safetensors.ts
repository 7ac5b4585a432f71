/**
 * safetensors read and write (https://github.com/huggingface/safetensors, "Format").
 * Reading validates the whole header before any tensor is touched (see safetensors-header.ts) and
 * converts on request: float32() for F32/F16/BF16/F64, int32() for integer dtypes, raw() for the
 * bytes. Writing produces what the reference writer produces for the same tensors: tensors sorted
 * by dtype size (largest first) then name, header padded with spaces so the data starts 8-aligned
 * (so writing back a file read from Hugging Face gives the same bytes).
 */
import fs from 'node:fs';
import { firstNonFinite, hostOrderCopy, tensorToFloat32, tensorToInt32, type Dtype, DTYPE_SIZES } from './dtypes.js';
import { SafetensorsError } from './errors.js';
import { parseHeader, type HeaderEntry } from './safetensors-header.js';

export type { Dtype } from './dtypes.js';
export {
  encodeSafetensors, encodeSafetensorsChunks, writeSafetensors, writeSafetensorsSync,
  type WritableTensor, type WritableTensors, type SafetensorsWriteOptions,
} from './safetensors-write.js';

/** What the header says about one tensor. */
export interface SafetensorsTensorInfo {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Byte range [begin, end) in the data buffer. */
  readonly dataOffsets: readonly [number, number];
}

/** A float tensor converted for use: the shape and a Float32Array the caller owns. */
export interface Float32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsReadOptions {
  /** Reject NaN and infinity in every float tensor (F16/BF16/F32/F64) up front, naming the tensor and index. */
  readonly finite?: boolean;
}

/** A parsed, validated safetensors file. Conversions copy, so the results do not alias the file buffer. */
export class SafetensorsFile {
  /** The path read, or the label given to {@link parseSafetensors}. */
  readonly file: string;
  /** The `__metadata__` map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly #bytes: Uint8Array;
  readonly #dataStart: number;
  readonly #entries: Map<string, HeaderEntry>;

  /** @internal Use parseSafetensors / readSafetensors. */
  constructor(bytes: Uint8Array, file: string, opts?: SafetensorsReadOptions) {
    // A Node Buffer's slice() does not copy; work on a plain Uint8Array view so it always does.
    this.#bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.file = file;
    const header = parseHeader(this.#bytes, file);
    this.metadata = Object.freeze({ ...header.metadata });
    this.#dataStart = header.dataStart;
    this.#entries = new Map(header.entries.map((e) => [e.name, e]));
    if (opts?.finite) for (const name of this.#entries.keys()) this.#checkFinite(name);
  }

  /** Tensor names in data order (the order the reference writer lays them out). */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const e = this.#entry(name);
    return { dtype: e.dtype, shape: [...e.shape], dataOffsets: [e.begin, e.end] };
  }

  /** The tensor's little-endian bytes: a view into the file's buffer (copy it to keep it apart). */
  raw(name: string): Uint8Array {
    const e = this.#entry(name);
    return this.#bytes.subarray(this.#dataStart + e.begin, this.#dataStart + e.end);
  }

  /** The tensor as a new Float32Array (F32, BF16 bit-exact; F16 exact; F64 rounded, overflow is an error). */
  float32(name: string, opts?: SafetensorsReadOptions): Float32Array {
    const e = this.#entry(name);
    if (opts?.finite) this.#checkFinite(name);
    const out = tensorToFloat32(this.raw(name), e.dtype);
    if (typeof out === 'string') throw new SafetensorsError(this.file, name, out);
    return out;
  }

  /** The tensor as a new Int32Array (integer and BOOL dtypes; values beyond int32 are an error). */
  int32(name: string): Int32Array {
    const e = this.#entry(name);
    const out = tensorToInt32(this.raw(name), e.dtype);
    if (typeof out === 'string') throw new SafetensorsError(this.file, name, out);
    return out;
  }

  /** An I64 tensor as a new BigInt64Array (every value kept). */
  bigint64(name: string): BigInt64Array {
    const e = this.#entry(name);
    if (e.dtype !== 'I64') throw new SafetensorsError(this.file, name, `dtype is ${e.dtype}, not I64`);
    return new BigInt64Array(hostOrderCopy(this.raw(name), 8).buffer);
  }

  /** Every tensor converted with {@link float32}; a tensor of a non-float dtype is an error naming it. */
  float32All(opts?: SafetensorsReadOptions): Map<string, Float32Tensor> {
    const out = new Map<string, Float32Tensor>();
    for (const [name, e] of this.#entries) out.set(name, { shape: [...e.shape], data: this.float32(name, opts) });
    return out;
  }

  #entry(name: string): HeaderEntry {
    const e = this.#entries.get(name);
    if (!e) throw new SafetensorsError(this.file, name, 'no such tensor in the file');
    return e;
  }

  #checkFinite(name: string): void {
    const e = this.#entry(name);
    const bytes = this.raw(name);
    const i = firstNonFinite(bytes, e.dtype);
    if (i >= 0) {
      const v = tensorToFloat32(bytes.subarray(i * DTYPE_SIZES[e.dtype], (i + 1) * DTYPE_SIZES[e.dtype]), e.dtype);
      const shown = typeof v === 'string' ? 'not finite' : String(v[0]);
      throw new SafetensorsError(this.file, name, `${shown} at flat index ${i} ${indexIn(e.shape, i)}, and finite values were required`);
    }
  }
}

/** " (position [a, b, c])" of flat index i in a row-major shape. */
function indexIn(shape: readonly number[], i: number): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) { idx.unshift(i % shape[d]); i = Math.floor(i / shape[d]); }
  return `(position [${idx.join(', ')}])`;
}

/** Parses safetensors bytes already in memory; `file` labels errors (default "<buffer>"). */
export function parseSafetensors(bytes: Uint8Array, opts?: SafetensorsReadOptions & { readonly file?: string }): SafetensorsFile {
  return new SafetensorsFile(bytes, opts?.file ?? '<buffer>', opts);
}

export async function readSafetensors(file: string, opts?: SafetensorsReadOptions): Promise<SafetensorsFile> {
  return new SafetensorsFile(await fs.promises.readFile(file), file, opts);
}

export function readSafetensorsSync(file: string, opts?: SafetensorsReadOptions): SafetensorsFile {
  return new SafetensorsFile(fs.readFileSync(file), file, opts);
}
