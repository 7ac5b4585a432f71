import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { DataFormatError, parseTsv, readTsv, readTsvSync } from '../dist/data/index.js';

const dir = mkdtempSync(join(tmpdir(), 'attnode-tsv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('TSV parallel text', () => {
  it('reads a good file: UTF-8, CRLF, BOM, empty lines skipped, line numbers kept', async () => {
    const p = file('good.tsv', '\uFEFFhello\tbonjour\r\n\r\nthe cat\tle chat\n  \nÜber 😀\tüber\n');
    const want = [
      { source: 'hello', target: 'bonjour', line: 1 },
      { source: 'the cat', target: 'le chat', line: 3 },
      { source: 'Über 😀', target: 'über', line: 5 },
    ];
    expect(await readTsv(p)).toEqual(want);
    expect(readTsvSync(p)).toEqual(want);
    expect(parseTsv('a\tb')).toEqual([{ source: 'a', target: 'b', line: 1 }]);
  });

  const bad: [string, string, number, RegExp][] = [
    ['no tab', 'a\tb\nno tab here\n', 2, /no tab/],
    ['two tabs', 'a\tb\n\nx\ty\tz\n', 3, /2 tabs/],
    ['empty source', 'a\tb\n\tb\n', 2, /empty source/],
    ['blank source', 'a\tb\nc\td\n  \te\n', 3, /empty source/],
    ['empty target', 'a\tb\r\nc\t\r\n', 2, /empty target/],
    ['only a tab', '\t\n', 1, /empty source/],
  ];
  for (const [name, content, line, re] of bad) {
    it(`reports ${name} with the file and line`, async () => {
      const p = file(`${name.replace(/ /g, '_')}.tsv`, content);
      const err = await readTsv(p).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(DataFormatError);
      const e = err as DataFormatError;
      expect(e.message).toMatch(re);
      expect(e.message.startsWith(`${p}:${line}: `)).toBe(true);
      expect(e.file).toBe(p);
      expect(e.line).toBe(line);
      expect(() => readTsvSync(p)).toThrow(`${p}:${line}:`);
    });
  }

  it('reports invalid UTF-8 with its line', () => {
    const p = file('latin1.tsv', Uint8Array.from([0x61, 0x09, 0x62, 0x0a, 0x63, 0x09, 0xe9, 0x0a]));
    expect(() => readTsvSync(p)).toThrow(`${p}:2: not valid UTF-8`);
  });

  it('names a missing file', async () => {
    await expect(readTsv(join(dir, 'missing.tsv'))).rejects.toThrow(/missing\.tsv/);
  });
});
