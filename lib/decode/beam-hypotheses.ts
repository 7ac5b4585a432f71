// The n-best list of one source in beam search, with Hugging Face's BeamHypotheses semantics
// (transformers/generation/beam_search.py): it keeps the numBeams best finished hypotheses by
// score = sum(logprobs) / generatedLength ** lengthPenalty (generatedLength counts EOS when the
// hypothesis ended with one), and decides when the search of its source may stop.

export interface Finished {
  score: number;
  /** Generated tokens without EOS. */
  tokens: number[];
  finished: boolean;
  attention: Float32Array[] | null;
}

export class BeamHypotheses {
  private readonly beams: Finished[] = [];
  /** Score of the worst kept hypothesis (1e9 while empty, as Hugging Face). */
  private worst = 1e9;

  constructor(private readonly numBeams: number, private readonly lengthPenalty: number,
    private readonly earlyStopping: boolean | 'never', private readonly maxNewTokens: number) {}

  get size(): number {
    return this.beams.length;
  }

  /** Offers a hypothesis of generatedLength tokens (EOS included) with this sum of log-probs. */
  add(tokens: number[], sumLogprobs: number, generatedLength: number, finished: boolean, attention: Float32Array[] | null): void {
    const score = sumLogprobs / generatedLength ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worst) {
      this.beams.push({ score, tokens, finished, attention });
      if (this.beams.length > this.numBeams) {
        // Drop the worst (the earliest added among equals, as Python's sort of (score, index) does).
        const order = this.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        this.beams.splice(order[0]![1], 1);
        this.worst = order[1]![0];
      } else {
        this.worst = Math.min(score, this.worst);
      }
    }
  }

  /**
   * Whether no running beam can still enter the list. bestSumLogprobs: the best candidate's sum of
   * log-probs at this step; currentLength: generated tokens so far, this step's included.
   * - earlyStopping true: as soon as numBeams hypotheses are kept.
   * - false: when the best candidate, normalised by the current length, is no better than the
   *   worst kept (Hugging Face's heuristic: exact for lengthPenalty <= 0, optimistic otherwise).
   * - 'never': the same with the exact bound: for lengthPenalty > 0 the best candidate normalised
   *   by the longest possible length (maxNewTokens), since a longer hypothesis divides by more.
   */
  isDone(bestSumLogprobs: number, currentLength: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const len = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxNewTokens : currentLength;
    return this.worst >= bestSumLogprobs / len ** this.lengthPenalty;
  }

  /** The kept hypotheses, best first (the later-added first among equal scores, as Hugging Face's pop of a stable sort). */
  best(): Finished[] {
    return this.beams.map((b, i) => [b, i] as const).sort((a, b) => b[0].score - a[0].score || b[1] - a[1]).map(([b]) => b);
  }
}
