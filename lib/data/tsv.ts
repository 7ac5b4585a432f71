// A user's parallel text: one pair a line, "source<TAB>target", UTF-8. Bad rows are errors that
// name the file and line rather than being skipped, because a silently dropped or misaligned pair
// is invisible in a loss curve. Empty lines are skipped; CRLF endings and a UTF-8 BOM are fine.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { DataFormatError } from './errors.js';

export interface ParallelPair {
  source: string;
  target: string;
  /** 1-based line in the file, for messages about this pair later. */
  line: number;
}

/** Parse TSV text; `file` only names the source in error messages. Sides are kept verbatim. */
export function parseTsv(text: string, file = '<text>'): ParallelPair[] {
  const out: ParallelPair[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (!line.includes('\t') && line.trim() === '') continue; // empty (or blank) line
    const n = i + 1;
    const parts = line.split('\t');
    if (parts.length === 1) throw new DataFormatError(file, n, 'no tab: expected "source<TAB>target"');
    if (parts.length > 2) throw new DataFormatError(file, n, `${parts.length - 1} tabs: expected exactly one between source and target`);
    const [source, target] = parts as [string, string];
    if (source.trim() === '') throw new DataFormatError(file, n, 'empty source (before the tab)');
    if (target.trim() === '') throw new DataFormatError(file, n, 'empty target (after the tab)');
    out.push({ source, target, line: n });
  }
  return out;
}

/** Decode UTF-8 strictly; invalid bytes are an error naming the first bad line. */
function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let start = 0;
    let line = 1;
    const strict = new TextDecoder('utf-8', { fatal: true });
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      try {
        strict.decode(bytes.subarray(start, i));
      } catch {
        throw new DataFormatError(file, line, 'not valid UTF-8');
      }
      start = i + 1;
      line++;
    }
    throw new DataFormatError(file, line, 'not valid UTF-8');
  }
}

/** Read and parse a TSV file of pairs. */
export async function readTsv(path: string): Promise<ParallelPair[]> {
  return parseTsv(decodeUtf8(await readFile(path), path), path);
}

/** Synchronous {@link readTsv}. */
export function readTsvSync(path: string): ParallelPair[] {
  return parseTsv(decodeUtf8(readFileSync(path), path), path);
}
