/**
 * Unlabelled "calendar text" for pretraining: short documents (one to three sentences) that mention
 * dates in the date task's spellings (every format, full or abbreviated names, any letter case)
 * and in ISO `YYYY-MM-DD`, each date drawn on its own. No document pairs two spellings of one
 * date, so the text teaches how dates are written, never the task's mapping. With split 'train'
 * (the default) every date is on the date task's training side (isHeldOutDate false): a model
 * pretrained on it has never seen a held-out test date.
 */
import { Rng } from '../rng.js';
import { civilFromDays } from './calendar.js';
import { DATE_FORMATS, FIRST_DAY, LAST_DAY, formatDate, isHeldOutDate, isoDate } from './dates.js';
import type { TaskSplit } from './split.js';

export interface DateTextOptions {
  /** Documents to generate. */
  count: number;
  seed: number;
  /** Which side of the date task's split the dates come from. Default 'train'. */
  split?: TaskSplit;
  /** Sentences a document, drawn uniformly from 1..maxSentences. Default 3. */
  maxSentences?: number;
  /** Write each date inside a sentence template ('Invoice dated ...'); false: the date alone. Default true. */
  templates?: boolean;
}

const TEMPLATES = [
  'The meeting was moved to {d}.', 'Invoice dated {d}.', 'Born on {d}.', 'Delivered {d}, signed by the clerk.',
  'The office is closed on {d}.', '{d}: quarterly report due.', 'Last updated {d}.', 'Expires {d}.',
  'We arrived on {d} and left soon after.', 'Posted {d}.', 'Deadline: {d}.', 'See the entry of {d}.',
  'Payment received {d}.', 'The event starts {d}.', 'Record {d} was archived.', 'Since {d}, nothing changed.',
];
const CASES = ['asis', 'asis', 'lower', 'upper', 'mixed'] as const;

function spell(rng: Rng, split: TaskSplit): string {
  const span = LAST_DAY - FIRST_DAY + 1;
  for (;;) {
    const d = civilFromDays(FIRST_DAY + rng.int(span));
    if (isHeldOutDate(d.year, d.month, d.day) !== (split === 'test')) continue;
    // ISO as often as any one human format, so the decoder side's format is familiar too.
    const f = rng.int(DATE_FORMATS.length + 1);
    if (f === DATE_FORMATS.length) return isoDate(d);
    const text = formatDate(d, DATE_FORMATS[f]!, rng.int(2) === 0);
    const c = rng.pick(CASES);
    if (c === 'lower') return text.toLowerCase();
    if (c === 'upper') return text.toUpperCase();
    if (c === 'mixed') return Array.from(text, (ch) => (rng.int(2) === 0 ? ch.toLowerCase() : ch.toUpperCase())).join('');
    return text;
  }
}

/** `count` seeded documents of calendar text, one per string. */
export function generateDateText(options: DateTextOptions): string[] {
  const { count, seed } = options;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count: expected an integer >= 0, got ${String(count)}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed: expected a safe integer, got ${String(seed)}`);
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new RangeError(`split: expected 'train' or 'test', got ${JSON.stringify(split)}`);
  const maxSentences = options.maxSentences ?? 3;
  if (!Number.isInteger(maxSentences) || maxSentences < 1) throw new RangeError(`maxSentences: expected an integer >= 1, got ${String(maxSentences)}`);
  const templates = options.templates ?? true;
  const rng = new Rng(seed);
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const sentences = 1 + rng.int(maxSentences);
    const parts: string[] = [];
    for (let s = 0; s < sentences; s++) {
      const date = spell(rng, split);
      parts.push(templates ? rng.pick(TEMPLATES).replace('{d}', date) : date);
    }
    docs.push(parts.join(' '));
  }
  return docs;
}
