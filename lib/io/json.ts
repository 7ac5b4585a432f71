/**
 * Plain JSON values, and a check that a value survives JSON.stringify/parse unchanged. stringify
 * is lossy without a word: NaN and Infinity become null, undefined and functions vanish, a Map
 * becomes {}, a bigint throws a message without a path. Saved state (configs, RNG state, optimizer
 * hyperparameters) must come back as it went, so these are refused up front, naming the path.
 */
import fs from 'node:fs';

export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject { [key: string]: JsonValue }

/**
 * Throws a TypeError naming `what` and the path (e.g. `trainer.rng.state[3]`) of the first part of
 * `value` that is not plain JSON: non-finite number, bigint, undefined, function, symbol, a
 * non-plain object (Map, Set, Date, typed array, class instance), or a cycle. -0 is accepted and
 * reads back as 0.
 */
export function checkJsonValue(value: unknown, what: string): asserts value is JsonValue {
  walk(value, what, new Set());
}

function walk(v: unknown, at: string, seen: Set<object>): void {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`${at} is ${v}, which JSON cannot hold`);
      return;
    case 'bigint':
      throw new TypeError(`${at} is a bigint, which JSON cannot hold: store it as a decimal string`);
    case 'object': {
      if (v === null) return;
      if (seen.has(v)) throw new TypeError(`${at} refers back to itself (a cycle)`);
      seen.add(v);
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) walk(v[i], `${at}[${i}]`, seen);
      } else {
        const proto: unknown = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) {
          const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          throw new TypeError(`${at} is a ${name}, not a plain object (JSON would not keep it)`);
        }
        for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`, seen);
      }
      seen.delete(v);
      return;
    }
    default:
      throw new TypeError(`${at} is ${typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`}, which JSON cannot hold`);
  }
}

/** A plain JSON object (not an array or null), or a TypeError naming `what`. */
export function checkJsonObject(value: unknown, what: string): asserts value is JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be a plain object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  checkJsonValue(value, what);
}

/** Parses a JSON file; a syntax error names the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  const text = await fs.promises.readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
}
