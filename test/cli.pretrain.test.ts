// Pretraining end to end: the pretrain() API resumes an aborted run bit-identically, and the
// `attnode pretrain` command writes a checkpoint that `attnode finetune` and `translate` load.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDateText, loadModel, pretrain } from '../dist/index.js';
import type { PretrainOptions } from '../dist/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-pretrain-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TINY = ['--d-model', '32', '--heads', '2', '--ff-dim', '64', '--encoder-layers', '1', '--decoder-layers', '1'];
const documents = generateDateText({ count: 48, seed: 2, maxSentences: 1 });
const base: PretrainOptions = {
  documents, noising: { objective: 'infill', tokenMaskRate: 0.1 }, masking: 'dynamic', steps: 6, batchSize: 8, seed: 3,
  model: { dModel: 32, heads: 2, ffDim: 64, encoderLayers: 1, decoderLayers: 1, dropout: 0.1 },
};

function weights(m: Awaited<ReturnType<typeof pretrain>>['model']): Map<string, number[]> {
  return new Map([...m.namedParameters()].map(([n, p]) => [n, Array.from(p.storage.data)]));
}

describe('pretrain() API', () => {
  it('an aborted run saves its last step and, resumed, ends bit-identical to an uninterrupted one', async () => {
    const straight = await pretrain(base);
    expect(straight.steps).toBe(6);
    const dir = path.join(root, 'api-run');
    const controller = new AbortController();
    await expect(pretrain({ ...base, out: dir, signal: controller.signal, progressEvery: 1,
      onProgress: (p) => { if (p.step === 3) controller.abort(new Error('stop here')); } })).rejects.toThrow(/stop here/);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'trainer.json'), 'utf8')) as { step: number; loader: { position: number } };
    expect(saved.step).toBe(3);
    expect(saved.loader.position).toBe(3);
    const resumed = await pretrain({ ...base, out: dir, resume: true });
    expect(resumed.resumedFrom).toBe(3);
    expect(resumed.steps).toBe(6);
    expect(resumed.loss).toBe(straight.loss);
    expect(weights(resumed.model)).toEqual(weights(straight.model));
    // Resuming with other noising is refused, naming what differs.
    await expect(pretrain({ ...base, out: dir, resume: true, masking: 'static' })).rejects.toThrow(/resume: masking differs/);
  });

  it('mlm and span pretrain too (span adds sentinels, mlm scores only chosen positions)', async () => {
    const span = await pretrain({ ...base, noising: { objective: 'span' }, steps: 2, sentinels: 10 });
    expect(span.tokenizer.sentinelIds.length).toBe(10);
    const mlm = await pretrain({ ...base, noising: { objective: 'mlm' }, masking: 'static', duplicates: 2, steps: 2 });
    expect(mlm.source.numExamples).toBe(2 * documents.length);
    expect(Number.isFinite(mlm.loss)).toBe(true);
    await expect(pretrain({ ...base, noising: { objective: 'nope' } as never })).rejects.toThrow(/noising\.objective/);
  });
});

describe('attnode pretrain', () => {
  const out = path.join(root, 'cli-pre');
  it('pretrains on a text file, saves a checkpoint that finetune and translate load', async () => {
    const corpus = path.join(root, 'corpus.txt');
    fs.writeFileSync(corpus, generateDateText({ count: 40, seed: 9, maxSentences: 1 }).join('\n') + '\n');
    const pre = cli(['pretrain', '--text', corpus, '--objective', 'span', '--masking', 'static', '--duplicates', '2', '--steps', '4',
      '--batch-size', '8', '--out', out, ...TINY]);
    expect(pre.code, pre.stderr).toBe(0);
    expect(pre.stdout).toMatch(/pretraining on 40 documents from .*corpus\.txt.*objective span, static masking; 4 steps/);
    expect(pre.stderr).toMatch(/100% step 4\/4 {2}loss [\d.]+/);
    const saved = await loadModel(out);
    expect(saved.tokenizer?.sentinelIds?.length).toBe(100);
    expect(saved.tokenizer?.maskId).toBeDefined();
    const tsv = path.join(root, 'pairs.tsv');
    fs.writeFileSync(tsv, 'March 3rd, 2021\t2021-03-03\n4 May 1999\t1999-05-04\n');
    const ft = cli(['finetune', '--model', out, '--data', tsv, '--out', path.join(root, 'cli-ft'), '--steps', '2']);
    expect(ft.code, ft.stderr).toBe(0);
    expect(ft.stdout).toMatch(/fine-tuning .*cli-pre .* on 2 pairs/);
    const tuned = await loadModel(path.join(root, 'cli-ft'));
    expect(tuned.model.config.dModel).toBe(32);
    // Fine-tuning starts from the pretrained weights, in the pretrained vocabulary.
    expect(tuned.tokenizer?.vocabSize).toBe(saved.tokenizer?.vocabSize);
    const tr = cli(['translate', '--model', path.join(root, 'cli-ft'), '--max-new-tokens', '4', 'March 3rd, 2021']);
    expect(tr.code, tr.stderr).toBe(0);
  });

  it('runs with the built-in corpus and resumes from its checkpoint', () => {
    const dir = path.join(root, 'cli-builtin');
    const args = ['pretrain', '--task', 'dates', '--documents', '32', '--batch-size', '8', '--out', dir, ...TINY];
    const first = cli([...args, '--steps', '3']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/built-in 'dates' corpus.*objective infill, dynamic masking/);
    expect(first.stdout).toMatch(/held-out noised loss [\d.]+/);
    const more = cli([...args, '--steps', '5', '--resume']);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout).toMatch(/resumed from step 3/);
    expect(more.stdout).toMatch(/\(step 5\)/);
  });

  it('rejects bad flags with a message naming them', () => {
    const bad = cli(['pretrain', '--task', 'dates', '--objective', 'bert', '--out', path.join(root, 'x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--objective must be mlm, infill or span, got bert/);
    const rate = cli(['pretrain', '--task', 'dates', '--objective', 'mlm', '--mask-rate', '1.5', '--out', path.join(root, 'x'), '--documents', '8']);
    expect(rate.code).toBe(1);
    expect(rate.stderr).toMatch(/noising\.maskRate: expected a number in \[0, 1\], got 1\.5/);
    const both = cli(['pretrain', '--out', path.join(root, 'x')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --text corpus\.txt and --task/);
    const masking = cli(['pretrain', '--task', 'dates', '--masking', 'often', '--out', path.join(root, 'x')]);
    expect(masking.stderr).toMatch(/--masking must be static or dynamic/);
  });
});
