// What decoding returns.

/** One output sequence. */
export interface Hypothesis {
  /** Generated ids: no start token, no EOS. */
  tokens: Int32Array;
  /** tokens decoded (special tokens skipped), when a tokenizer was given. */
  text?: string;
  /**
   * Beam search: sum(logprobs) / length ** lengthPenalty (length counts EOS when it ended with
   * one), Hugging Face's sequences_scores. Greedy and sampling: sum(logprobs) of the generated
   * tokens (EOS included), under the distribution the token was chosen from (after the processors
   * and, when sampling, the warpers).
   */
  score: number;
  /** Ended with EOS (false: stopped at maxNewTokens). */
  finished: boolean;
  /**
   * With returnAttention: one row per generated token (EOS included when finished), of source
   * length, the cross-attention probabilities of the last decoder layer averaged over heads.
   */
  attention?: Float32Array[];
}

/** A token as stream() yields it. */
export interface StreamToken {
  /** Index of the source in the batch. */
  source: number;
  /** Which of the source's numReturnSequences samples. */
  sequence: number;
  /** Position among the generated tokens (0 for the first). */
  step: number;
  token: number;
  /** Log-probability of the token under the distribution it was chosen from. */
  logprob: number;
  /** The token decoded alone (special tokens as ''), when a tokenizer was given. */
  text?: string;
  /** The sequence ends here (EOS, or maxNewTokens reached). */
  done: boolean;
  /** The token is EOS. */
  eos: boolean;
}

export interface GenerateResult {
  /** Per source, numReturnSequences hypotheses (beam search: best first; sampling: in draw order). */
  sequences: Hypothesis[][];
  /** The same hypotheses flattened, source-major (index = source * numReturnSequences + j), as Hugging Face returns them. */
  tokens: Int32Array[];
  scores: number[];
  /** Decoded tokens, when a tokenizer was given. */
  texts?: string[];
}
