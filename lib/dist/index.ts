// Data-parallel training across processes and machines (MPI, started by mpirun).
export { initDistributed, DistributedTimeoutError, DistributedUnavailableError, RankFailedError } from './distributed.js';
export type { Distributed, DistributedOptions, PendingReduction } from './distributed.js';
export { shardBatch, shardRange } from './shard.js';
export { launchInfo } from './env.js';
export type { LaunchInfo } from './env.js';
export type { CommStats } from '../train/distributed.js';
