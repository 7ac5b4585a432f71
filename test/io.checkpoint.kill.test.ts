// Issue #19: a save SIGKILLed at any moment leaves a folder that loads as the last completed save or
// as the one in progress, never incomplete or mixed; what the killed save left behind is removed by
// the next load and the next save. A child process (test/helpers/checkpoint-saver.mjs) saves ~3 MB
// checkpoints in a loop and is killed at seeded random moments; a load while another process saves
// in a loop never returns a mix of two saves.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError, loadCheckpoint, readCheckpointManifest, saveCheckpoint } from '../dist/io/index.js';
import { checkpointFor, filesFor, mismatch } from './helpers/checkpoint-kill-data.mjs';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-ckpt-kill-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const SAVER = path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), 'helpers', 'checkpoint-saver.mjs');
const KILLS = 50;

/** mulberry32: a seeded stream of floats in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Saver { child: ChildProcess; saved: number[]; ready: Promise<void>; exited: Promise<void> }

function startSaver(dir: string, start: number): Saver {
  const child = spawn(process.execPath, [SAVER, dir, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const saved: number[] = [];
  let err = '';
  let buf = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => { onReady = r; });
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    buf += s;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
      const line = buf.slice(0, i);
      if (line === 'ready') onReady();
      else if (line.startsWith('saved ')) saved.push(Number(line.slice(6)));
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const exited = new Promise<void>((resolve, reject) => child.on('close', (code, signal) => {
    onReady();
    if (signal === 'SIGKILL') resolve();
    else reject(new Error(`saver exited with ${code ?? signal} before it was killed: ${err}`));
  }));
  return { child, saved, ready, exited };
}

/** Files and folders of `dir` that no complete checkpoint has: staging folders and .tmp files. */
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith('.save.') || f.endsWith('.tmp'));

describe('saves killed with SIGKILL', () => {
  it(`${KILLS} kills at random moments: the folder always loads as the last completed save or the one in progress, and is cleaned after`, async () => {
    const dir = path.join(root, 'killed');
    const random = rng(19);
    await saveCheckpoint(dir, checkpointFor(0));
    let next = 1;
    const stats = { newer: 0, dirty: 0, staged: 0, completedSaves: 0 };
    for (let k = 0; k < KILLS; k++) {
      const s = startSaver(dir, next);
      await s.ready;
      // Any moment: from before the first save got far to several saves in (one save is tens of ms).
      await new Promise((r) => setTimeout(r, random() * 200));
      s.child.kill('SIGKILL');
      await s.exited;
      const lastDone = s.saved.length ? s.saved[s.saved.length - 1]! : next - 1;
      stats.completedSaves += s.saved.length;
      if (leftovers(dir).length) stats.dirty++;
      const manifest = await readCheckpointManifest(dir);
      const stages = new Set(Object.values(manifest.files).flatMap((e) => (e.path ? [e.path.split('/')[0]!] : [])));
      if (stages.size) stats.staged++;

      const ck = await loadCheckpoint(dir);
      const counter = ck.config.counter as number;
      expect(mismatch(ck), `kill ${k}`).toBeUndefined();
      expect([lastDone, lastDone + 1], `kill ${k}: the last completed save was ${lastDone}`).toContain(counter);
      if (counter === lastDone + 1) stats.newer++;
      // The load removed the dead save's leftovers, except a staging folder the manifest still points into.
      expect(leftovers(dir).filter((f) => !stages.has(f)), `kill ${k}`).toEqual([]);

      next = counter + 1;
      if (k % 2 === 0) {
        // Every other time the next save is ours (and must clean up); otherwise the next child's.
        await saveCheckpoint(dir, checkpointFor(next));
        expect(fs.readdirSync(dir).sort(), `kill ${k}`).toEqual(filesFor(next));
        next++;
      }
    }
    // The kills landed inside saves (leftovers found), also between their switch and their end.
    expect(stats.dirty, JSON.stringify(stats)).toBeGreaterThanOrEqual(KILLS / 4);
    expect(stats.newer, JSON.stringify(stats)).toBeGreaterThanOrEqual(1);
    console.log(`kill test: ${JSON.stringify(stats)}`);
  });
});

describe('a load while another process saves in a loop', () => {
  it('returns a whole checkpoint of one save every time (or a concurrent-save error), counters never going back', async () => {
    const dir = path.join(root, 'racing');
    await saveCheckpoint(dir, checkpointFor(0));
    const s = startSaver(dir, 1);
    await s.ready;
    let loads = 0, busy = 0, last = 0;
    try {
      const until = Date.now() + 2500;
      while (Date.now() < until) {
        try {
          const ck = await loadCheckpoint(dir);
          expect(mismatch(ck)).toBeUndefined();
          const counter = ck.config.counter as number;
          expect(counter).toBeGreaterThanOrEqual(last);
          last = counter;
          loads++;
        } catch (e) {
          if (!(e instanceof CheckpointError && e.code === 'concurrent-save')) throw e;
          busy++;
        }
      }
    } finally {
      s.child.kill('SIGKILL');
      await s.exited;
    }
    console.log(`racing loads: ${loads} whole, ${busy} concurrent-save, last counter ${last}, saves ${s.saved.length}`);
    expect(loads).toBeGreaterThan(10);
    expect(last).toBeGreaterThan(5);
    expect(mismatch(await loadCheckpoint(dir))).toBeUndefined();
  });
});
