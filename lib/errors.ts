/** Errors attnode throws besides the TypeError/RangeError of argument checks. */

/** The native addon could not be loaded; `attempts` lists what was tried and why it failed. */
export class AttnodeLoadError extends Error {
  readonly attempts: readonly string[];
  constructor(message: string, attempts: readonly string[]) {
    super(message);
    this.name = 'AttnodeLoadError';
    this.attempts = attempts;
  }
}

/** A requested CPU variant (ATTNODE_ISA or setIsa) is not available on this CPU or build. */
export class AttnodeIsaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttnodeIsaError';
  }
}
