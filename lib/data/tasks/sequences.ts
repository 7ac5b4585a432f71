// Copy, reverse and sort of random strings over a small alphabet: the classic sanity tasks for a
// seq2seq model (copy needs attention to the right source position, reverse a non-monotone
// alignment, sort a global one). Strings are written without separators, one character a token.
import { Rng, hashString } from '../rng.js';
import { checkCommon, sampleSplit, type TaskCommonOptions, type TaskExample } from './split.js';

export type SequenceTaskName = 'copy' | 'reverse' | 'sort';

export interface SequenceTaskOptions extends TaskCommonOptions {
  /** Characters to draw from, each distinct; sort orders by position here. Default 'abcdefghij'. */
  alphabet?: string;
  /** Shortest source, >= 1. Default 3. */
  minLength?: number;
  /** Longest source. Default 12. */
  maxLength?: number;
}

const SALT: Record<SequenceTaskName, number> = { copy: 0x0c09, reverse: 0x4e7e, sort: 0x5027 };

export function generateSequenceTask(name: SequenceTaskName, options: SequenceTaskOptions): TaskExample[] {
  const { split, fraction } = checkCommon(options);
  const alphabet = Array.from(options.alphabet ?? 'abcdefghij');
  if (alphabet.length === 0) throw new RangeError('alphabet: expected at least one character');
  if (new Set(alphabet).size !== alphabet.length) throw new RangeError('alphabet: characters must be distinct');
  const minLength = options.minLength ?? 3;
  const maxLength = options.maxLength ?? 12;
  if (!Number.isInteger(minLength) || minLength < 1) throw new RangeError(`minLength: expected an integer >= 1, got ${minLength}`);
  if (!Number.isInteger(maxLength) || maxLength < minLength) {
    throw new RangeError(`maxLength: expected an integer >= minLength (${minLength}), got ${maxLength}`);
  }
  const rank = new Map(alphabet.map((c, i) => [c, i]));
  const rng = new Rng(options.seed);
  return sampleSplit(options.count, split, fraction, () => {
    const n = rng.intIn(minLength, maxLength);
    const chars: string[] = [];
    for (let i = 0; i < n; i++) chars.push(rng.pick(alphabet));
    const source = chars.join('');
    let target: string;
    if (name === 'copy') target = source;
    else if (name === 'reverse') target = [...chars].reverse().join('');
    else target = [...chars].sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number)).join('');
    return { item: { source, target }, hash: hashString(source, SALT[name]) };
  });
}
