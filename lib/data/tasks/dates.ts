/**
 * Date normalisation: a date written in one of many human formats goes to ISO `YYYY-MM-DD`.
 * Everything is generated in code from a seed; no downloads.
 *
 * Dates are uniform over 1900-01-01 .. 2099-12-31 and always valid (Gregorian leap years: 2000
 * has a 29 February, 1900 and 2100 do not). Sources come in these formats (shown for 3 March
 * 2021, a Wednesday):
 *
 * | name                     | example                    | notes                              |
 * | ------------------------ | -------------------------- | ---------------------------------- |
 * | `D Month YYYY`           | `3 March 2021`             |                                    |
 * | `Month D, YYYY`          | `March 3, 2021`            |                                    |
 * | `Month Dth, YYYY`        | `March 3rd, 2021`          | ordinal: 1st 2nd 3rd 4th 11th 21st |
 * | `Weekday, Month D, YYYY` | `Wednesday, March 3, 2021` | the true weekday of that date      |
 * | `MM/DD/YYYY`             | `03/03/2021`               | US order, zero-padded              |
 * | `YYYY/MM/DD`             | `2021/03/03`               | zero-padded                        |
 * | `YYYY.M.D`               | `2021.3.3`                 | not padded                         |
 * | `D-Mon-YYYY`             | `3-Mar-2021`               |                                    |
 * | `Mon D YYYY`             | `Mar 3 2021`               |                                    |
 * | `the Dth of Month, YYYY` | `the 3rd of March, 2021`   |                                    |
 *
 * In every format that spells the month, it is drawn at random full (`March`) or as its
 * three-letter abbreviation (`Mar`, `Sep`), whatever the table shows; the weekday follows the
 * same choice (`Wednesday, March 3, 2021` or `Wed, Mar 3, 2021`). Letter case varies: as shown, all lower, all upper, or mixed letter by letter
 * (`mArCh`). The target is always `YYYY-MM-DD`.
 *
 * The held-out ('test') split is the set of dates whose hash falls in `heldOutFraction` (10% by
 * default), whatever the format: a test date is never seen in training, in any spelling.
 */
import { Rng, mix32 } from '../rng.js';
import { civilFromDays, daysFromCivil, weekdayOf, type CivilDate } from './calendar.js';
import { checkCommon, isHeldOut, sampleSplit, type TaskCommonOptions, type TaskExample } from './split.js';

export const DATE_FORMATS = [
  'D Month YYYY', 'Month D, YYYY', 'Month Dth, YYYY', 'Weekday, Month D, YYYY', 'MM/DD/YYYY',
  'YYYY/MM/DD', 'YYYY.M.D', 'D-Mon-YYYY', 'Mon D YYYY', 'the Dth of Month, YYYY',
] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

export const MONTH_NAMES = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
] as const;
export const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;

/** How letters are cased in a generated source. */
export type LetterCase = 'asis' | 'lower' | 'upper' | 'mixed';

export interface DateTaskOptions extends TaskCommonOptions {
  /** Restrict to these formats (default all). */
  formats?: readonly DateFormat[];
}

/** A generated pair with the format it was written in. */
export interface DateExample extends TaskExample {
  format: DateFormat;
}

export const FIRST_DAY = daysFromCivil(1900, 1, 1);
export const LAST_DAY = daysFromCivil(2099, 12, 31);
const SPLIT_SALT = 0xda7e5;

/** Whether a date belongs to the held-out split (its hash, not the seed, decides). */
export function isHeldOutDate(year: number, month: number, day: number, fraction = 0.1): boolean {
  return isHeldOut(dateHash(daysFromCivil(year, month, day)), fraction);
}

function dateHash(days: number): number {
  return mix32((days ^ SPLIT_SALT) >>> 0);
}

export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** ISO 8601 `YYYY-MM-DD` (years 1000-9999). */
export function isoDate(d: CivilDate): string {
  return `${d.year}-${pad2(d.month)}-${pad2(d.day)}`;
}

/** Write a date in one format; `full` picks full month and weekday names over three letters. */
export function formatDate(d: CivilDate, format: DateFormat, full = true): string {
  const month = MONTH_NAMES[d.month - 1] as string;
  const wd = WEEKDAY_NAMES[weekdayOf(d.year, d.month, d.day)] as string;
  const mon = full ? month : month.slice(0, 3);
  const wday = full ? wd : wd.slice(0, 3);
  const { year: y, day } = d;
  switch (format) {
    case 'D Month YYYY': return `${day} ${mon} ${y}`;
    case 'Month D, YYYY': return `${mon} ${day}, ${y}`;
    case 'Month Dth, YYYY': return `${mon} ${ordinal(day)}, ${y}`;
    case 'Weekday, Month D, YYYY': return `${wday}, ${mon} ${day}, ${y}`;
    case 'MM/DD/YYYY': return `${pad2(d.month)}/${pad2(day)}/${y}`;
    case 'YYYY/MM/DD': return `${y}/${pad2(d.month)}/${pad2(day)}`;
    case 'YYYY.M.D': return `${y}.${d.month}.${day}`;
    case 'D-Mon-YYYY': return `${day}-${mon}-${y}`;
    case 'Mon D YYYY': return `${mon} ${day} ${y}`;
    case 'the Dth of Month, YYYY': return `the ${ordinal(day)} of ${mon}, ${y}`;
  }
}

function applyCase(text: string, c: LetterCase, rng: Rng): string {
  if (c === 'lower') return text.toLowerCase();
  if (c === 'upper') return text.toUpperCase();
  if (c === 'mixed') return Array.from(text, (ch) => (rng.int(2) === 0 ? ch.toLowerCase() : ch.toUpperCase())).join('');
  return text;
}

const CASES: readonly LetterCase[] = ['asis', 'asis', 'lower', 'upper', 'mixed'];

export function generateDates(options: DateTaskOptions): DateExample[] {
  const { split, fraction } = checkCommon(options);
  const formats = options.formats ?? DATE_FORMATS;
  if (formats.length === 0) throw new RangeError('formats: expected at least one format');
  formats.forEach((f, i) => {
    if (!(DATE_FORMATS as readonly string[]).includes(f)) {
      throw new RangeError(`formats[${i}]: unknown format ${JSON.stringify(f)} (known: ${DATE_FORMATS.join(' | ')})`);
    }
  });
  const rng = new Rng(options.seed);
  const span = LAST_DAY - FIRST_DAY + 1;
  return sampleSplit(options.count, split, fraction, () => {
    const days = FIRST_DAY + rng.int(span);
    const date = civilFromDays(days);
    const format = rng.pick(formats);
    const full = rng.int(2) === 0;
    const source = applyCase(formatDate(date, format, full), rng.pick(CASES), rng);
    return { item: { source, target: isoDate(date), format }, hash: dateHash(days) };
  });
}
