// The command line of issue 15's Mask-Predict: `attnode train --task dates --objective cmlm` saves
// a CMLM (config objective 'cmlm', maskId, length predictor), `attnode translate --method
// mask-predict` decodes with it; mismatched methods and bad flags fail naming the flag or option.
// (A few training steps only: the trained accuracy is measured by bench/decode-cmlm.mjs.)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, loadModel } from '../dist/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-cli-cmlm-'));
const MODEL = path.join(root, 'dates-cmlm');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('attnode train --objective cmlm, then translate --method mask-predict', () => {
  let train: ReturnType<typeof cli>;
  beforeAll(() => {
    train = cli(['train', '--task', 'dates', '--objective', 'cmlm', '--out', MODEL, '--steps', '20', '--d-model', '32', '--heads', '2',
      '--ff-dim', '64', '--encoder-layers', '1', '--decoder-layers', '1', '--batch-size', '16']);
  });

  it('trains a CMLM and saves it with its objective, mask id and length predictor', () => {
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/task dates \(objective cmlm\)/);
    expect(train.stdout).toMatch(/exact match on 1000 held-out examples \(Mask-Predict, 10 iterations, 1 length candidate\): [\d.]+%/);
    const config = JSON.parse(fs.readFileSync(path.join(MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.objective).toBe('cmlm');
    const tok = JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer.src.json'), 'utf8')) as { maskId?: number };
    expect(config.maskId).toBe(tok.maskId);
  });

  it('translates with mask-predict (the default method of a CMLM), one line per input', () => {
    const a = cli(['translate', '--model', MODEL, '--method', 'mask-predict', '--iterations', '3', '--length-candidates', '2', 'March 3rd, 2021', '4 July 1999']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout.trimEnd().split('\n')).toHaveLength(2);
    const svg = path.join(root, 'a.svg');
    const b = cli(['translate', '--model', MODEL, '--attention', svg, 'March 3rd, 2021']);
    expect(b.code, b.stderr).toBe(0);
    expect(fs.readFileSync(svg, 'utf8')).toMatch(/^<\?xml/);
  });

  it('--no-early-stop gives every candidate all --iterations passes: the library with earlyStop false, bit for bit', async () => {
    const inputs = ['March 3rd, 2021', '4 July 1999', '12/25/1990'];
    const { model, tokenizer } = await loadModel(MODEL);
    const want = async (earlyStop: boolean): Promise<string[]> =>
      (await generate(model, inputs, { tokenizer: tokenizer!, iterations: 4, lengthCandidates: 2, earlyStop })).texts!;
    const forced = cli(['translate', '--model', MODEL, '--iterations', '4', '--length-candidates', '2', '--no-early-stop', ...inputs]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout.trimEnd().split('\n')).toEqual(await want(false));
    const adaptive = cli(['translate', '--model', MODEL, '--iterations', '4', '--length-candidates', '2', ...inputs]);
    expect(adaptive.code, adaptive.stderr).toBe(0);
    expect(adaptive.stdout.trimEnd().split('\n')).toEqual(await want(true));
  });

  it('rejects a mismatched method and bad flags, naming them', () => {
    const ar = cli(['translate', '--model', MODEL, '--method', 'autoregressive', 'x']);
    expect(ar.code).not.toBe(0);
    expect(ar.stderr).toMatch(/options.method 'autoregressive' needs an autoregressive model/);
    const m = cli(['translate', '--model', MODEL, '--method', 'nar', 'x']);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--method must be autoregressive or mask-predict/);
    const it0 = cli(['translate', '--model', MODEL, '--iterations', '0', 'x']);
    expect(it0.code).toBe(2);
    expect(it0.stderr).toMatch(/--iterations must be an integer >= 1/);
    const o = cli(['train', '--task', 'dates', '--objective', 'mlm', '--out', path.join(root, 'x')]);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/--objective must be autoregressive or cmlm/);
    const d = cli(['train', '--data', path.join(root, 'missing.tsv'), '--objective', 'cmlm', '--out', path.join(root, 'y')]);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/missing\.tsv/);
  });
});
