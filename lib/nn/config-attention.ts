// Validation of the attention-pattern fields of the model config (issue 16): encoderAttention,
// decoderSelfAttention and decoderAttention. Kept apart from config.ts so each file has one job.
// Errors name the field and say what was expected, as the rest of the config's do.
import type { Seq2SeqModelConfig } from './config.js';

export const SPARSE_FIELDS = ['encoderAttention', 'decoderSelfAttention', 'decoderAttention'] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function shown(v: unknown): string {
  return isPlainObject(v) || Array.isArray(v) ? JSON.stringify(v) : String(v);
}

function onlyKeys(where: string, v: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(v))
    if (!keys.includes(k)) throw new TypeError(`model config: unknown field '${where}.${k}' (known: ${keys.join(', ')})`);
}

function count(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RangeError(`model config: ${where} must be a non-negative integer, got ${shown(v)}`);
  return v;
}

/** One side's { window, globalTokens }; `sides` are the window's allowed keys ('left' alone when causal). */
function checkSide(name: string, v: unknown, sides: readonly ('left' | 'right')[]): void {
  if (v === undefined) return;
  if (!isPlainObject(v)) throw new TypeError(`model config: ${name} must be an object { window, globalTokens }, got ${shown(v)}`);
  onlyKeys(name, v, ['window', 'globalTokens']);
  const w = v.window;
  if (w !== undefined) {
    if (!isPlainObject(w)) throw new TypeError(`model config: ${name}.window must be an object { ${sides.join(', ')} }, got ${shown(w)}`);
    if (!sides.includes('right') && w.right !== undefined && w.right !== 0)
      throw new RangeError(`model config: ${name}.window.right must be 0 or absent (decoder self-attention is causal), got ${shown(w.right)}`);
    onlyKeys(`${name}.window`, w, ['left', 'right']);
    for (const s of sides) count(`${name}.window.${s}`, w[s]);
  }
  if (v.globalTokens !== undefined) {
    count(`${name}.globalTokens`, v.globalTokens);
    // Without a window every position already sees every key: global tokens would change nothing.
    if (w === undefined) throw new RangeError(`model config: ${name}.globalTokens needs ${name}.window (without a window every position sees every key already)`);
  }
}

export function checkSparseAttention(r: Seq2SeqModelConfig): void {
  checkSide('encoderAttention', r.encoderAttention, ['left', 'right']);
  checkSide('decoderSelfAttention', r.decoderSelfAttention, ['left']);
  const d: unknown = r.decoderAttention;
  if (d !== undefined && d !== 'separate' && d !== 'mixed')
    throw new RangeError(`model config: decoderAttention must be 'separate' or 'mixed', got ${shown(d)}`);
  // A mixed layer's keys are [source; prefix]: a decoder window there would either cut the source
  // (the kernel's window counts every key) or need global queries the KV cache cannot bound.
  if (d === 'mixed' && r.decoderSelfAttention?.window !== undefined)
    throw new RangeError("model config: decoderSelfAttention.window cannot be combined with decoderAttention 'mixed' (a mixed layer attends to the whole source and prefix)");
}
