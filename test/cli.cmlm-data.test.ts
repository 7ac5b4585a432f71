// `attnode train --objective cmlm --data pairs.tsv` (issue 15): the --data pipeline of
// autoregressive training (lib/cli/commands.ts) with a CMLM: the tokenizer gains <mask>, the model
// a bidirectional decoder and a length predictor, the evaluation is Mask-Predict; then `attnode
// translate --method mask-predict` decodes with the saved model. The task (a word count spelled
// out: "red cat" -> "two") needs both the length predictor (targets of 3 and 5 characters) and the
// token predictions, and is learnt in a couple of hundred steps by a tiny model.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-cli-cmlm-data-'));
const MODEL = path.join(root, 'count-cmlm');
const TSV = path.join(root, 'pairs.tsv');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const WORDS = ['red', 'blue', 'green', 'cat', 'dog', 'sun', 'moon', 'tree'];
const NAMES = ['one', 'two', 'three'];

describe('attnode train --objective cmlm --data FILE, then translate --method mask-predict', () => {
  let train: ReturnType<typeof cli>;
  beforeAll(() => {
    const lines: string[] = [];
    for (let i = 0; i < 240; ++i) {
      const n = 1 + (i % 3), words = Array.from({ length: n }, (_, k) => WORDS[(i * 5 + k * 3 + Math.floor(i / 7)) % WORDS.length]!);
      lines.push(`${words.join(' ')}\t${NAMES[n - 1]!}`);
    }
    fs.writeFileSync(TSV, lines.join('\n') + '\n');
    train = cli(['train', '--data', TSV, '--objective', 'cmlm', '--out', MODEL, '--steps', '200', '--d-model', '32', '--heads', '2',
      '--ff-dim', '64', '--encoder-layers', '1', '--decoder-layers', '1', '--batch-size', '16', '--lr', '0.005', '--seed', '3']);
  });

  it('trains a CMLM on the pairs and saves it with its objective, mask id and length predictor', () => {
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/240 pairs from .*pairs\.tsv \(objective cmlm\)/);
    const m = /exact match on 200 training pairs \(Mask-Predict, 10 iterations, 1 length candidate\): ([\d.]+)%/.exec(train.stdout);
    expect(m, train.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(90);
    const config = JSON.parse(fs.readFileSync(path.join(MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.objective).toBe('cmlm');
    const tok = JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer.src.json'), 'utf8')) as { maskId?: number };
    expect(typeof tok.maskId).toBe('number');
    expect(config.maskId).toBe(tok.maskId);
    expect(fs.readdirSync(MODEL).join(' ')).toMatch(/safetensors/);
  });

  it('translates the learnt task with --method mask-predict (and by default), and refuses autoregressive', () => {
    const inputs = ['moon', 'red cat', 'sun dog tree'];
    const a = cli(['translate', '--model', MODEL, '--method', 'mask-predict', ...inputs]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout.trimEnd().split('\n')).toEqual(['one', 'two', 'three']);
    const b = cli(['translate', '--model', MODEL, '--iterations', '2', ...inputs]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout.trimEnd().split('\n')).toEqual(['one', 'two', 'three']);
    const c = cli(['translate', '--model', MODEL, '--method', 'autoregressive', 'moon']);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/options.method 'autoregressive' needs an autoregressive model/);
  });
});
