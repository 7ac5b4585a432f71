import { describe, expect, it } from 'vitest';
import {
  generateTask, generateDates, DATE_FORMATS, CharTokenizer, isHeldOutDate, formatDate,
  type DateExample,
} from '../dist/data/index.js';

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september',
  'october', 'november', 'december'];
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

function monthOf(name: string): number {
  const n = name.toLowerCase();
  const i = MONTHS.findIndex((m) => m === n || m.slice(0, 3) === n);
  if (i < 0) throw new Error(`bad month ${name}`);
  return i + 1;
}
function ordinalOk(d: number, suffix: string): boolean {
  const want = d % 100 >= 11 && d % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[d % 10] ?? 'th';
  return suffix.toLowerCase() === want;
}

const M = '([a-z]+)';
/** An independent parser of every documented format: [regex, field order]. */
const PARSERS: [string, RegExp, (m: RegExpMatchArray) => { y: number; m: number; d: number; wd?: string; ord?: string }][] = [
  ['D Month YYYY', new RegExp(`^(\\d{1,2}) ${M} (\\d{4})$`, 'i'), (x) => ({ d: +x[1]!, m: monthOf(x[2]!), y: +x[3]! })],
  ['Month D, YYYY', new RegExp(`^${M} (\\d{1,2}), (\\d{4})$`, 'i'), (x) => ({ m: monthOf(x[1]!), d: +x[2]!, y: +x[3]! })],
  ['Month Dth, YYYY', new RegExp(`^${M} (\\d{1,2})(st|nd|rd|th), (\\d{4})$`, 'i'), (x) => ({ m: monthOf(x[1]!), d: +x[2]!, ord: x[3]!, y: +x[4]! })],
  ['Weekday, Month D, YYYY', new RegExp(`^${M}, ${M} (\\d{1,2}), (\\d{4})$`, 'i'), (x) => ({ wd: x[1]!, m: monthOf(x[2]!), d: +x[3]!, y: +x[4]! })],
  ['MM/DD/YYYY', /^(\d{2})\/(\d{2})\/(\d{4})$/, (x) => ({ m: +x[1]!, d: +x[2]!, y: +x[3]! })],
  ['YYYY/MM/DD', /^(\d{4})\/(\d{2})\/(\d{2})$/, (x) => ({ y: +x[1]!, m: +x[2]!, d: +x[3]! })],
  ['YYYY.M.D', /^(\d{4})\.([1-9]\d?)\.([1-9]\d?)$/, (x) => ({ y: +x[1]!, m: +x[2]!, d: +x[3]! })],
  ['D-Mon-YYYY', new RegExp(`^(\\d{1,2})-${M}-(\\d{4})$`, 'i'), (x) => ({ d: +x[1]!, m: monthOf(x[2]!), y: +x[3]! })],
  ['Mon D YYYY', new RegExp(`^${M} (\\d{1,2}) (\\d{4})$`, 'i'), (x) => ({ m: monthOf(x[1]!), d: +x[2]!, y: +x[3]! })],
  ['the Dth of Month, YYYY', new RegExp(`^the (\\d{1,2})(st|nd|rd|th) of ${M}, (\\d{4})$`, 'i'), (x) => ({ d: +x[1]!, ord: x[2]!, m: monthOf(x[3]!), y: +x[4]! })],
];

/** Parse a source with the one pattern that matches; checks weekday and ordinal on the way. */
function parse(source: string): { iso: string; format: string; y: number; m: number; d: number } {
  const hits = PARSERS.filter(([, re]) => re.test(source));
  expect(hits.length, source).toBe(1);
  const [format, re, fields] = hits[0]!;
  const f = fields(source.match(re)!);
  // Validity checked with the JS Date (independent of the library's calendar code).
  const dt = new Date(Date.UTC(f.y, f.m - 1, f.d));
  expect([dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate()], source).toEqual([f.y, f.m, f.d]);
  if (f.wd !== undefined) {
    const w = DAYS[dt.getUTCDay()]!;
    expect([w, w.slice(0, 3)], source).toContain(f.wd.toLowerCase());
  }
  if (f.ord !== undefined) expect(ordinalOk(f.d, f.ord), source).toBe(true);
  const iso = `${f.y}-${String(f.m).padStart(2, '0')}-${String(f.d).padStart(2, '0')}`;
  return { iso, format, y: f.y, m: f.m, d: f.d };
}

describe('date normalisation task', () => {
  const train = generateDates({ count: 20000, seed: 1 });

  it('every target is a valid YYYY-MM-DD equal to the independently parsed source', () => {
    const formats = new Set<string>();
    for (const ex of train) {
      expect(ex.target).toMatch(/^(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/);
      const p = parse(ex.source);
      expect(p.iso, ex.source).toBe(ex.target);
      expect(p.format).toBe(ex.format);
      formats.add(p.format);
    }
    expect([...formats].sort()).toEqual([...DATE_FORMATS].sort());
  });

  it('covers the year range, leap days only in leap years, month name styles and letter cases', () => {
    const years = train.map((e) => +e.target.slice(0, 4));
    expect(Math.min(...years)).toBe(1900);
    expect(Math.max(...years)).toBe(2099);
    const leap = train.filter((e) => e.target.endsWith('-02-29'));
    expect(leap.length).toBeGreaterThan(0);
    for (const e of leap) {
      const y = +e.target.slice(0, 4);
      expect(y % 4 === 0 && y !== 1900, e.target).toBe(true);
    }
    expect(train.some((e) => e.target.startsWith('2000-02-29'))).toBe(true);
    const named = train.filter((e) => /[a-z]{3}/i.test(e.source));
    expect(named.some((e) => /\bsep\b/i.test(e.source))).toBe(true);
    expect(named.some((e) => /september/i.test(e.source))).toBe(true);
    expect(named.some((e) => e.source === e.source.toLowerCase())).toBe(true);
    expect(named.some((e) => e.source === e.source.toUpperCase())).toBe(true);
    expect(named.some((e) => /[a-z][A-Z]|[A-Z]{2}[a-z]/.test(e.source))).toBe(true);
  });

  it('writes the documented examples and the true weekday', () => {
    const d = { year: 2021, month: 3, day: 3 };
    expect(formatDate(d, 'Weekday, Month D, YYYY')).toBe('Wednesday, March 3, 2021');
    expect(formatDate(d, 'the Dth of Month, YYYY')).toBe('the 3rd of March, 2021');
    expect(formatDate(d, 'D-Mon-YYYY', false)).toBe('3-Mar-2021');
    expect(formatDate(d, 'MM/DD/YYYY')).toBe('03/03/2021');
    expect(formatDate(d, 'YYYY.M.D')).toBe('2021.3.3');
    expect(formatDate({ year: 1900, month: 1, day: 1 }, 'Weekday, Month D, YYYY', false)).toBe('Mon, Jan 1, 1900');
    expect(formatDate({ year: 2012, month: 2, day: 11 }, 'Month Dth, YYYY')).toBe('February 11th, 2012');
    expect(formatDate({ year: 2012, month: 2, day: 22 }, 'Month Dth, YYYY')).toBe('February 22nd, 2012');
  });

  it('train and held-out dates are disjoint, and each side is reproducible per seed', () => {
    const test = generateTask('dates', { count: 5000, seed: 2, split: 'test' }) as DateExample[];
    const trainDates = new Set(train.map((e) => e.target));
    expect(test.filter((e) => trainDates.has(e.target))).toEqual([]);
    for (const e of test.slice(0, 2000)) expect(parse(e.source).iso).toBe(e.target);
    const [y, m, d] = test[0]!.target.split('-').map(Number) as [number, number, number];
    expect(isHeldOutDate(y, m, d)).toBe(true);
    // A train set from another seed also avoids the held-out dates.
    const train2 = generateTask('dates', { count: 5000, seed: 99 });
    const testDates = new Set(test.map((e) => e.target));
    expect(train2.filter((e) => testDates.has(e.target))).toEqual([]);
    expect(generateTask('dates', { count: 50, seed: 7 })).toEqual(generateTask('dates', { count: 50, seed: 7 }));
    expect(generateTask('dates', { count: 50, seed: 7 })).not.toEqual(generateTask('dates', { count: 50, seed: 8 }));
  });

  it('restricts formats on request and validates options', () => {
    const only = generateDates({ count: 200, seed: 3, formats: ['YYYY.M.D'] });
    expect(only.every((e) => e.format === 'YYYY.M.D')).toBe(true);
    expect(() => generateDates({ count: 1, seed: 1, formats: ['DD.MM'] as never })).toThrow(/formats\[0\]/);
    expect(() => generateDates({ count: -1, seed: 1 })).toThrow(/count/);
    expect(() => generateDates({ count: 1, seed: 1, heldOutFraction: 1 })).toThrow(/heldOutFraction/);
    expect(() => (generateTask as (n: string, o: object) => unknown)('nope', { count: 1, seed: 1 })).toThrow(/unknown name/);
  });

  it('is encodable by a char tokenizer built from the training side', () => {
    const tok = CharTokenizer.fromTexts(train.flatMap((e) => [e.source, e.target]));
    const test = generateTask('dates', { count: 500, seed: 3, split: 'test' });
    for (const e of test) expect(tok.decode(tok.encode(e.target))).toBe(e.target);
  });
});

describe('copy / reverse / sort tasks', () => {
  it('targets are the copy, reversal and sort of the source over the alphabet', () => {
    for (const name of ['copy', 'reverse', 'sort'] as const) {
      const ex = generateTask(name, { count: 500, seed: 4, alphabet: 'pqrs', minLength: 2, maxLength: 9 });
      expect(ex.length).toBe(500);
      for (const { source, target } of ex) {
        expect(source).toMatch(/^[pqrs]{2,9}$/);
        const want = name === 'copy' ? source : name === 'reverse' ? [...source].reverse().join('') : [...source].sort().join('');
        expect(target).toBe(want);
      }
      const lens = new Set(ex.map((e) => e.source.length));
      expect(lens).toEqual(new Set([2, 3, 4, 5, 6, 7, 8, 9]));
    }
    // sort follows the given alphabet's order, not code points
    const z = generateTask('sort', { count: 20, seed: 1, alphabet: 'zyx' });
    for (const e of z) expect(e.target).toBe([...e.source].sort((a, b) => 'zyx'.indexOf(a) - 'zyx'.indexOf(b)).join(''));
  });

  it('held-out sources never appear in training, and seeds reproduce', () => {
    const train = generateTask('reverse', { count: 3000, seed: 1, maxLength: 6 });
    const test = generateTask('reverse', { count: 300, seed: 1, split: 'test', maxLength: 6 });
    const seen = new Set(train.map((e) => e.source));
    expect(test.filter((e) => seen.has(e.source))).toEqual([]);
    expect(generateTask('copy', { count: 30, seed: 5 })).toEqual(generateTask('copy', { count: 30, seed: 5 }));
    expect(() => generateTask('copy', { count: 5, seed: 1, alphabet: 'a', minLength: 1, maxLength: 1, split: 'test', heldOutFraction: 0.0001 }))
      .toThrow(/too small/);
    expect(() => generateTask('copy', { count: 1, seed: 1, alphabet: 'aa' })).toThrow(/distinct/);
    expect(() => generateTask('copy', { count: 1, seed: 1, minLength: 5, maxLength: 4 })).toThrow(/maxLength/);
  });
});
