// initDistributed(): the process group a data-parallel run trains in. Under mpirun it loads the
// MPI addon and wraps its collectives; started alone it is a group of one whose collectives do
// nothing, so the same script runs either way.
import { DistributedUnavailableError, loadMpiAddon, type MpiAddon } from './addon.js';
import { launchInfo } from './env.js';

/** A reduction in flight (startAllReduce). */
export interface PendingReduction {
  /** Lets MPI make progress; true once the result is in recv. Never blocks. */
  test(): boolean;
  /** Blocks until the result is in recv (or the group's timeout passes: DistributedTimeoutError). */
  wait(): { bytes: number; waitMs: number };
}

export interface Distributed {
  readonly rank: number;
  readonly size: number;
  /** This rank's index among the ranks on its machine (e.g. to pick a device or a core set). */
  readonly localRank: number;
  /** Rank 0: the one that prints and writes checkpoints. */
  readonly isMain: boolean;
  /** The host this rank runs on (for messages). */
  readonly host: string;
  /** How long a collective waits for the other ranks before it throws DistributedTimeoutError (ms). */
  timeoutMs: number;
  /** Sum over all ranks, in place (every rank gets the same bits). */
  allReduce(data: Float32Array | Float64Array): void;
  /** Starts a sum over all ranks of send into recv (default: send, in place); neither may be touched until wait. */
  startAllReduce(send: Float32Array | Float64Array, recv?: Float32Array | Float64Array): PendingReduction;
  /** Rank root's bytes of data into every rank's data (in place); returns data. */
  broadcast<T extends ArrayBufferView>(data: T, root?: number): T;
  barrier(): void;
  /** Prints `message` naming this rank to stderr and ends every rank of the job (MPI_Abort). */
  abort(message: string, code?: number): never;
  /** Ends this process's part in the group (MPI_Finalize); collectives throw afterwards. */
  dispose(): void;
}

export interface DistributedOptions {
  /** Default 120000 ms, or ATTNODE_DIST_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** A collective waited longer than timeoutMs: another rank died, hangs, or left the step. */
export class DistributedTimeoutError extends Error {
  constructor(message: string, readonly rank: number) {
    super(message);
    this.name = 'DistributedTimeoutError';
  }
}

/** Another rank failed in a step (its own error is reported on that rank). */
export class RankFailedError extends Error {
  constructor(message: string, readonly failedRanks: readonly number[], readonly step: number) {
    super(message);
    this.name = 'RankFailedError';
  }
}

function checkTimeout(ms: number): number {
  if (typeof ms !== 'number' || !(ms > 0)) throw new RangeError(`timeoutMs: expected a number > 0, got ${String(ms)}`);
  return ms;
}

function defaultTimeout(): number {
  const env = process.env.ATTNODE_DIST_TIMEOUT_MS;
  if (env === undefined || env === '') return 120_000;
  const n = Number(env);
  if (!(n > 0)) throw new RangeError(`ATTNODE_DIST_TIMEOUT_MS: expected a number > 0, got '${env}'`);
  return n;
}

function checkFloat(data: unknown, what: string): void {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) throw new TypeError(`${what}: expected a Float32Array or Float64Array`);
}

/** The group of one: collectives are identities. */
class SingleProcess implements Distributed {
  readonly rank = 0;
  readonly size = 1;
  readonly localRank = 0;
  readonly isMain = true;
  readonly host = 'localhost';
  constructor(public timeoutMs: number) {}
  allReduce(data: Float32Array | Float64Array): void {
    checkFloat(data, 'allReduce: data');
  }
  startAllReduce(send: Float32Array | Float64Array, recv: Float32Array | Float64Array = send): PendingReduction {
    checkFloat(send, 'startAllReduce: send');
    checkFloat(recv, 'startAllReduce: recv');
    if (recv !== send) (recv as Float32Array).set(send as Float32Array);
    return { test: () => true, wait: () => ({ bytes: 0, waitMs: 0 }) };
  }
  broadcast<T extends ArrayBufferView>(data: T): T {
    return data;
  }
  barrier(): void {}
  abort(message: string, code = 1): never {
    process.stderr.write(`attnode: ${message}\n`);
    process.exit(code);
  }
  dispose(): void {}
}

class MpiGroup implements Distributed {
  readonly isMain: boolean;
  private disposed = false;
  constructor(private readonly mpi: MpiAddon, readonly rank: number, readonly size: number, readonly localRank: number,
    readonly host: string, public timeoutMs: number) {
    this.isMain = rank === 0;
  }

  private live(what: string): MpiAddon {
    if (this.disposed) throw new Error(`${what}: the distributed group was disposed`);
    return this.mpi;
  }

  // The addon's timeout error becomes a typed one naming this rank and what it waited for.
  private guard<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof Error && (e as Error & { code?: string }).code === 'ATTNODE_MPI_TIMEOUT') {
        throw new DistributedTimeoutError(`rank ${this.rank} of ${this.size} (${this.host}): ${what} timed out after ${this.timeoutMs} ms ` +
          'waiting for the other ranks (one died, hangs, or is in another collective)', this.rank);
      }
      throw e;
    }
  }

  allReduce(data: Float32Array | Float64Array): void {
    checkFloat(data, 'allReduce: data');
    this.startAllReduce(data).wait();
  }

  startAllReduce(send: Float32Array | Float64Array, recv: Float32Array | Float64Array = send): PendingReduction {
    checkFloat(send, 'startAllReduce: send');
    checkFloat(recv, 'startAllReduce: recv');
    const mpi = this.live('startAllReduce');
    const h = mpi.iallreduce(send, recv);
    let result: { bytes: number; waitMs: number } | null = null;
    return {
      test: () => result !== null || mpi.test(h),
      wait: () => (result ??= this.guard('allReduce', () => mpi.wait(h, this.timeoutMs))),
    };
  }

  broadcast<T extends ArrayBufferView>(data: T, root = 0): T {
    if (!ArrayBuffer.isView(data)) throw new TypeError('broadcast: data must be a typed array or DataView');
    if (!Number.isInteger(root) || root < 0 || root >= this.size) throw new RangeError(`broadcast: root must be a rank in [0, ${this.size}), got ${String(root)}`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.guard('broadcast', () => this.live('broadcast').broadcast(bytes, root, this.timeoutMs));
    return data;
  }

  barrier(): void {
    this.guard('barrier', () => this.live('barrier').barrier(this.timeoutMs));
  }

  abort(message: string, code = 1): never {
    process.stderr.write(`attnode: rank ${this.rank} of ${this.size} (${this.host}): ${message}; aborting the job\n`);
    return this.mpi.abort(code);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.mpi.finalize();
  }
}

let group: Distributed | null = null;

/**
 * The process group of this run: rank, size and local rank from the MPI launcher's environment,
 * collectives through the MPI addon. Started without mpirun: a group of one (no addon is loaded).
 * Under mpirun without the addon built: a DistributedUnavailableError saying how to build it.
 * Called again, returns the same group. A rank that exits with a non-zero code (an uncaught
 * error) aborts the whole job, so the others stop at once instead of waiting for it.
 */
export async function initDistributed(opts: DistributedOptions = {}): Promise<Distributed> {
  await Promise.resolve();
  if (group) return group;
  const timeoutMs = checkTimeout(opts.timeoutMs ?? defaultTimeout());
  const env = launchInfo();
  if (env.size === 1 && env.source === 'none') return (group = new SingleProcess(timeoutMs));
  const mpi = loadMpiAddon();
  const info = mpi.init();
  if (info.rank !== env.rank || info.size !== env.size) {
    throw new DistributedUnavailableError(`initDistributed: MPI says rank ${info.rank} of ${info.size}, ${env.source} says ${env.rank} of ${env.size} ` +
      '(a launcher of another MPI than the one the addon was built against?)');
  }
  const g = new MpiGroup(mpi, info.rank, info.size, info.localRank, info.processor, timeoutMs);
  // The monitor only watches (Node still prints the error and exits); its message goes into the
  // abort line, since output the rank wrote just before MPI_Abort can be lost on the way to mpirun.
  let fatal: unknown;
  process.on('uncaughtExceptionMonitor', (e) => { fatal = e; });
  process.once('exit', (code) => {
    if (code !== 0) {
      const why = fatal instanceof Error ? `${fatal.name}: ${fatal.message}` : fatal !== undefined ? String(fatal) : null;
      g.abort(`exiting with code ${code}${why ? ` after an uncaught ${why}` : ''}`, code);
    }
    try {
      g.dispose();
    } catch { /* collectives still pending after a failure: the job is ending anyway */ }
  });
  return (group = g);
}

export { DistributedUnavailableError };
