// Loads the optional MPI addon (native/dist -> attnode_mpi.node) and types its surface. Loaded
// only when a process runs under mpirun: the main addon never links libmpi, and a process
// started alone never touches MPI.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root.js';

export interface MpiInfo {
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  /** The thread level MPI granted (MPI_THREAD_FUNNELED = 1 is what attnode asks for). */
  threadLevel: number;
  /** MPI_Get_processor_name: the host this rank runs on. */
  processor: string;
  library: string;
}

/** attnode_mpi.node: every call is made from the JS main thread. Float arrays are summed as floats. */
export interface MpiAddon {
  init(): MpiInfo;
  allreduce(data: Float32Array | Float64Array): void;
  /** Starts a sum of send into recv (the same array: in place); returns a handle for test/wait. */
  iallreduce(send: Float32Array | Float64Array, recv: Float32Array | Float64Array): number;
  test(handle: number): boolean;
  /** timeoutMs <= 0: no limit. Throws an Error with code ATTNODE_MPI_TIMEOUT when it runs out. */
  wait(handle: number, timeoutMs: number): { bytes: number; waitMs: number };
  broadcast(data: ArrayBufferView, root: number, timeoutMs: number): void;
  barrier(timeoutMs: number): void;
  abort(code: number): never;
  finalize(): void;
  pending(): number;
}

/** Running under mpirun, but the MPI addon is missing or does not load. */
export class DistributedUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DistributedUnavailableError';
  }
}

/** Where the addon is: ATTNODE_MPI_BINARY when set, else native/dist's node-gyp output. */
export function mpiAddonPath(): string {
  return process.env.ATTNODE_MPI_BINARY ?? path.join(packageRoot, 'native', 'dist', 'build', 'Release', 'attnode_mpi.node');
}

export function loadMpiAddon(): MpiAddon {
  const file = mpiAddonPath();
  const how = 'build it with `npm run build:dist` (needs Open MPI: apt-get install libopenmpi-dev openmpi-bin)';
  if (!fs.existsSync(file)) {
    throw new DistributedUnavailableError(`initDistributed: this process runs under mpirun, but the MPI addon ${file} is not built; ${how}`);
  }
  try {
    return createRequire(path.join(packageRoot, 'package.json'))(file) as MpiAddon;
  } catch (e) {
    throw new DistributedUnavailableError(`initDistributed: the MPI addon ${file} does not load (${e instanceof Error ? e.message : String(e)}); ${how}`, { cause: e });
  }
}
