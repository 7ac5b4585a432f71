/**
 * safetensors dtypes: element sizes, and conversion of a tensor's little-endian bytes to the
 * typed arrays the rest of attnode uses. Bytes may sit at any offset (other writers do not align),
 * so every conversion copies into a fresh, aligned buffer that the caller then owns.
 */

/** The whole-byte dtypes of the safetensors reference implementation (huggingface/safetensors). */
export const DTYPE_SIZES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1, F8_E4M3FNUZ: 1, F8_E5M2FNUZ: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8, C64: 8,
} as const;

/** A dtype whose tensors can be read (as raw bytes at least). */
export type Dtype = keyof typeof DTYPE_SIZES;

/** Sub-byte dtypes of the reference implementation: known, but their packing is not supported here. */
export const SUB_BYTE_DTYPES: readonly string[] = ['F4', 'F6_E2M3', 'F6_E3M2'];

export function isDtype(s: string): s is Dtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

/** The dtypes {@link tensorToFloat32} converts (F64 is rounded; a finite value beyond float32 range is an error). */
export const FLOAT_DTYPES: readonly Dtype[] = ['F16', 'BF16', 'F32', 'F64'];
/** The dtypes {@link tensorToInt32} converts (wider ones are range-checked). */
export const INT_DTYPES: readonly Dtype[] = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64'];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A copy of little-endian `bytes` in a fresh buffer whose elements of `size` bytes are in host
 * order, so that a typed array view over it reads the right values on any host.
 */
export function hostOrderCopy(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes); // copies, and the new buffer starts at offset 0 (aligned)
  if (!LITTLE_ENDIAN && size > 1) swapBytes(out, size);
  return out;
}

/** The little-endian bytes of a typed array: a view on little-endian hosts, a swapped copy otherwise. */
export function littleEndianBytes(data: ArrayBufferView & { BYTES_PER_ELEMENT: number }): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const out = new Uint8Array(view);
  swapBytes(out, data.BYTES_PER_ELEMENT);
  return out;
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo]; b[lo] = b[hi]; b[hi] = t;
    }
  }
}

/**
 * Index of the first NaN or infinity in little-endian float `bytes`, or -1. Reads the exponent bits
 * straight from the bytes (all ones = not finite), so it needs neither a copy nor alignment.
 * Returns -1 for dtypes that are not F16/BF16/F32/F64 (integers are always finite).
 */
export function firstNonFinite(bytes: Uint8Array, dtype: Dtype): number {
  const n = bytes.length;
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i += 4) if ((bytes[i + 3] & 0x7f) === 0x7f && (bytes[i + 2] & 0x80) !== 0) return i / 4;
      return -1;
    case 'F16':
      for (let i = 0; i < n; i += 2) if ((bytes[i + 1] & 0x7c) === 0x7c) return i / 2;
      return -1;
    case 'BF16':
      for (let i = 0; i < n; i += 2) if ((bytes[i + 1] & 0x7f) === 0x7f && (bytes[i] & 0x80) !== 0) return i / 2;
      return -1;
    case 'F64':
      for (let i = 0; i < n; i += 8) if ((bytes[i + 7] & 0x7f) === 0x7f && (bytes[i + 6] & 0xf0) === 0xf0) return i / 8;
      return -1;
    default:
      return -1;
  }
}

let f16Table: Float32Array | undefined;
/** float32 value of every float16 bit pattern, built on first use (256 KiB). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = sign * m * 2 ** -24; // zero and subnormals
    else if (e === 31) t[h] = m ? NaN : sign * Infinity;
    else t[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (f16Table = t);
}

/**
 * Converts a tensor's bytes to a new Float32Array. F32 and BF16 keep every bit (BF16 is the top
 * half of a float32); F16 is exact except NaN payloads; F64 is rounded to nearest, and a finite
 * value too large for float32 throws rather than silently becoming infinity.
 * Returns a string describing the problem instead of throwing, so the caller can name the file and tensor.
 */
export function tensorToFloat32(bytes: Uint8Array, dtype: Dtype): Float32Array | string {
  switch (dtype) {
    case 'F32':
      return new Float32Array(hostOrderCopy(bytes, 4).buffer);
    case 'BF16': {
      const src = new Uint16Array(hostOrderCopy(bytes, 2).buffer);
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'F16': {
      const src = new Uint16Array(hostOrderCopy(bytes, 2).buffer);
      const table = halfTable();
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
      return out;
    }
    case 'F64': {
      const src = new Float64Array(hostOrderCopy(bytes, 8).buffer);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        out[i] = src[i];
        if (!Number.isFinite(out[i]) && Number.isFinite(src[i])) {
          return `F64 value ${src[i]} at index ${i} is beyond the float32 range`;
        }
      }
      return out;
    }
    default:
      return `dtype ${dtype} does not convert to float32 (floats: ${FLOAT_DTYPES.join(', ')}); read its raw bytes instead`;
  }
}

/**
 * Converts an integer (or BOOL) tensor's bytes to a new Int32Array. U32/I64/U64 values outside the
 * int32 range, and BOOL bytes other than 0 and 1, are errors (returned as a string, see above).
 */
export function tensorToInt32(bytes: Uint8Array, dtype: Dtype): Int32Array | string {
  switch (dtype) {
    case 'I32':
      return new Int32Array(hostOrderCopy(bytes, 4).buffer);
    case 'BOOL':
    case 'U8': {
      if (dtype === 'BOOL') {
        const bad = bytes.findIndex((b) => b > 1);
        if (bad >= 0) return `BOOL byte ${bytes[bad]} at index ${bad} is neither 0 nor 1`;
      }
      return Int32Array.from(bytes);
    }
    case 'I8':
      return Int32Array.from(new Int8Array(hostOrderCopy(bytes, 1).buffer));
    case 'I16':
      return Int32Array.from(new Int16Array(hostOrderCopy(bytes, 2).buffer));
    case 'U16':
      return Int32Array.from(new Uint16Array(hostOrderCopy(bytes, 2).buffer));
    case 'U32': {
      const src = new Uint32Array(hostOrderCopy(bytes, 4).buffer);
      const bad = src.findIndex((v) => v > 0x7fffffff);
      if (bad >= 0) return `U32 value ${src[bad]} at index ${bad} is beyond the int32 range`;
      return new Int32Array(src.buffer);
    }
    case 'I64':
    case 'U64': {
      const src = dtype === 'I64'
        ? new BigInt64Array(hostOrderCopy(bytes, 8).buffer)
        : new BigUint64Array(hostOrderCopy(bytes, 8).buffer);
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v > 0x7fffffffn || v < -0x80000000n) return `${dtype} value ${v} at index ${i} is beyond the int32 range`;
        out[i] = Number(v);
      }
      return out;
    }
    default:
      return `dtype ${dtype} does not convert to int32 (integers: ${INT_DTYPES.join(', ')}); read its raw bytes instead`;
  }
}
