// Learning-rate schedules, as functions of the 1-based step.
export type Schedule =
  | { kind: 'constant'; lr: number }
  /** "Attention Is All You Need": linear warmup, then decay with the inverse square root of the step. */
  | { kind: 'inverseSqrt'; lr: number; warmup: number }
  /** Linear warmup, then cosine decay to minLr at totalSteps. */
  | { kind: 'cosine'; lr: number; warmup: number; totalSteps: number; minLr?: number };

export function learningRate(s: Schedule, step: number): number {
  switch (s.kind) {
    case 'constant':
      return s.lr;
    case 'inverseSqrt':
      return s.lr * Math.min(step / s.warmup, Math.sqrt(s.warmup / step));
    case 'cosine': {
      if (step <= s.warmup) return (s.lr * step) / s.warmup;
      const t = Math.min(1, (step - s.warmup) / Math.max(1, s.totalSteps - s.warmup));
      const min = s.minLr ?? 0;
      return min + 0.5 * (s.lr - min) * (1 + Math.cos(Math.PI * t));
    }
  }
}
