// A one-line progress bar for a terminal (redrawn in place), or periodic plain lines when the
// output is not a terminal (CI logs).
import type { Progress } from '../train/trainer.js';

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class ProgressBar {
  private lastPlain = -1;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly width = 24) {}

  update(p: Progress): void {
    const frac = p.totalSteps > 0 ? p.step / p.totalSteps : 1;
    const text = `step ${p.step}/${p.totalSteps}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerSecond)} tok/s  ` +
      `lr ${p.lr.toExponential(2)}  ETA ${clock(p.etaMs)}` + (p.evalLoss !== undefined ? `  eval ${p.evalLoss.toFixed(4)}` : '') +
      (p.comm ? `  allreduce ${(p.comm.bytes / 1e6).toFixed(2)} MB, waited ${p.comm.waitMs.toFixed(1)} ms` : '');
    if (this.stream.isTTY) {
      const filled = Math.round(frac * this.width);
      this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${text}\x1b[K`);
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile !== this.lastPlain) {
      this.lastPlain = decile;
      this.stream.write(`${Math.round(frac * 100)}% ${text}\n`);
    }
  }

  done(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
