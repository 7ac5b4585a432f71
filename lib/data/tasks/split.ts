// Train / held-out splits of generated tasks. Membership is a fixed function of a hash of the
// item (a date, a source string), never of the seed or of sampling order, so the held-out items
// are unseen in training whatever seeds and counts the two sides use.

/** Which side of a task to generate. */
export type TaskSplit = 'train' | 'test';

/** Options every built-in task takes. */
export interface TaskCommonOptions {
  /** Examples to generate. */
  count: number;
  /** Seed of the sampler (same seed and options, same examples). */
  seed: number;
  /** Default 'train'. */
  split?: TaskSplit;
  /** Share of items reserved for 'test', in (0, 1). Default 0.1. */
  heldOutFraction?: number;
}

/** One generated pair. */
export interface TaskExample {
  source: string;
  target: string;
}

export const DEFAULT_HELD_OUT_FRACTION = 0.1;

/** Check the common options; returns the split and the fraction. */
export function checkCommon(o: TaskCommonOptions): { split: TaskSplit; fraction: number } {
  if (!Number.isInteger(o.count) || o.count < 0) throw new RangeError(`count: expected an integer >= 0, got ${String(o.count)}`);
  if (!Number.isSafeInteger(o.seed)) throw new RangeError(`seed: expected a safe integer, got ${String(o.seed)}`);
  const split = o.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new RangeError(`split: expected 'train' or 'test', got ${JSON.stringify(split)}`);
  const fraction = o.heldOutFraction ?? DEFAULT_HELD_OUT_FRACTION;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`heldOutFraction: expected a number in (0, 1), got ${String(fraction)}`);
  return { split, fraction };
}

/** Whether an item with this uint32 hash is held out (on the 'test' side). */
export function isHeldOut(hash: number, fraction: number): boolean {
  return hash / 4294967296 < fraction;
}

/**
 * Draw `count` items on one side of the split by rejection. `draw` returns the item and its
 * hash; a side too small to hit (a tiny alphabet) fails loudly instead of looping forever.
 */
export function sampleSplit<T>(
  count: number, split: TaskSplit, fraction: number, draw: () => { item: T; hash: number },
): T[] {
  const out: T[] = [];
  const maxTries = 1000 * count + 100000;
  for (let tries = 0; out.length < count; tries++) {
    if (tries >= maxTries) {
      throw new RangeError(`could not draw ${count} '${split}' examples in ${maxTries} tries: the task's item space is too small for this split`);
    }
    const { item, hash } = draw();
    if (isHeldOut(hash, fraction) === (split === 'test')) out.push(item);
  }
  return out;
}
