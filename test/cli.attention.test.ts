// `attnode translate --attention out.svg`: a saved model's cross-attention written as a labelled,
// well-formed SVG heatmap (one file per input when several are given).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { allElements, parseXml } from './helpers/xml.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-cli-att-'));
const modelDir = path.join(dir, 'model');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

describe('translate --attention', () => {
  beforeAll(() => {
    const r = cli('train', '--task', 'copy', '--out', modelDir, '--steps', '60', '--d-model', '32', '--heads', '2',
      '--ff-dim', '64', '--encoder-layers', '1', '--decoder-layers', '1', '--batch-size', '16');
    expect(r.status, r.stderr).toBe(0);
  });

  it('writes a well-formed SVG whose labels are the source and output tokens', () => {
    const file = path.join(dir, 'one.svg');
    const r = cli('translate', '--model', modelDir, '--attention', file, '--max-new-tokens', '8', 'abca');
    expect(r.status, r.stderr).toBe(0);
    const output = r.stdout.trim();
    const root = parseXml(fs.readFileSync(file, 'utf8'));
    expect(root.name).toBe('svg');
    const texts = allElements(root).filter((e) => e.name === 'text').map((e) => e.text);
    for (const ch of 'abca') expect(texts).toContain(ch);  // source tokens label the columns
    for (const ch of output) expect(texts).toContain(ch);  // output tokens label the rows
    expect(allElements(root).filter((e) => e.name === 'rect').length).toBeGreaterThan(4);
  });

  it('writes one numbered file per input', () => {
    const base = path.join(dir, 'many.svg');
    const r = cli('translate', '--model', modelDir, '--attention', base, '--max-new-tokens', '6', 'ab', 'cab');
    expect(r.status, r.stderr).toBe(0);
    for (const i of [0, 1]) parseXml(fs.readFileSync(path.join(dir, `many-${i}.svg`), 'utf8'));
  });
});
