/** Errors attnode throws besides the TypeError/RangeError of argument checks. */

/** One binary the loader considered, and why it was not used. */
export interface LoadAttempt {
  /** Absolute path of the .node file (or of the folder that was searched). */
  readonly file: string;
  /** The dlopen error, or why the file was skipped without trying (other libc, CPU too old). */
  readonly reason: string;
}

/**
 * The native addon could not be loaded. `attempts` lists every binary that was tried or skipped
 * and why; `message` says the same and ends with the fix (approve the install script and rebuild,
 * build from source, or the CPU feature that is missing).
 */
export class AttnodeLoadError extends Error {
  readonly attempts: readonly LoadAttempt[];
  constructor(message: string, attempts: readonly LoadAttempt[]) {
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
