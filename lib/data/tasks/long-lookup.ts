// A long-document task (issue 16) whose answer is local: keyed lookup. The source is `length`
// filler letters (the first `filler` of a-p) in which each of `keys` marker letters (A, B, ...) appears once at a random
// position, directly followed by a digit; the target is the digits after A, B, ... in that order
// (e.g. "7305"). The digit that answers a key sits next to its marker, so an encoder with a
// sliding window of one position each side can attach it to the marker, and cross-attention finds
// the marker by content: full attention over 2k-4k tokens costs T x T and buys nothing here,
// which is what bench/long-document.mjs measures (with keys 1).
import { Rng, hashString } from '../rng.js';
import { checkCommon, sampleSplit, type TaskCommonOptions, type TaskExample } from './split.js';

export interface LongLookupOptions extends TaskCommonOptions {
  /** Source length in characters (tokens), >= 2 * keys. Default 2048. */
  length?: number;
  /** Marker letters, 1..26. Default 4. */
  keys?: number;
  /** Filler letters drawn from (the first n of a-p), 1..16. Default 16. */
  filler?: number;
}

const FILLERS = 'abcdefghijklmnop';
const MARKERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function generateLongLookup(options: LongLookupOptions): TaskExample[] {
  const { split, fraction } = checkCommon(options);
  const length = options.length ?? 2048, keys = options.keys ?? 4, filler = options.filler ?? 16;
  if (!Number.isInteger(filler) || filler < 1 || filler > FILLERS.length) throw new RangeError(`filler: expected an integer in [1, ${FILLERS.length}], got ${filler}`);
  if (!Number.isInteger(keys) || keys < 1 || keys > MARKERS.length) throw new RangeError(`keys: expected an integer in [1, ${MARKERS.length}], got ${keys}`);
  if (!Number.isInteger(length) || length < 2 * keys) throw new RangeError(`length: expected an integer >= 2 * keys (${2 * keys}), got ${length}`);
  const rng = new Rng(options.seed);
  return sampleSplit(options.count, split, fraction, () => {
    const chars = Array.from({ length }, () => FILLERS[rng.intIn(0, filler - 1)]!);
    // Marker slots: positions p (p + 1 < length) whose pair does not overlap another.
    const used = new Uint8Array(length);
    let target = '';
    for (let k = 0; k < keys; ++k) {
      let p: number;
      do p = rng.intIn(0, length - 2); while (used[p] || used[p + 1]);
      used[p] = used[p + 1] = 1;
      const digit = String(rng.intIn(0, 9));
      chars[p] = MARKERS[k]!;
      chars[p + 1] = digit;
      target += digit;
    }
    const source = chars.join('');
    return { item: { source, target }, hash: hashString(source, 0x10c4) };
  });
}
