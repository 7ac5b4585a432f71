// Rank, size and local rank from the launcher's environment, read before any MPI library is
// loaded: Open MPI's mpirun (OMPI_COMM_WORLD_*), MPICH/Intel MPI's hydra (PMI_*), PMIx launchers
// and Slurm's srun. None set: one process on its own.
export interface LaunchInfo {
  rank: number;
  size: number;
  localRank: number;
  /** The variable the rank came from ('none' when started alone). */
  source: string;
}

function int(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name}: expected an integer >= 0 in the environment, got '${v}'`);
  return n;
}

export function launchInfo(env: NodeJS.ProcessEnv = process.env): LaunchInfo {
  const schemes: [string, string, string][] = [
    ['OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK'],
    ['PMI_RANK', 'PMI_SIZE', 'MPI_LOCALRANKID'],
    ['PMIX_RANK', 'PMIX_SIZE', 'PMIX_LOCAL_RANK'],
    ['SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID'],
  ];
  for (const [r, s, l] of schemes) {
    const rank = int(env, r);
    if (rank === undefined) continue;
    const size = int(env, s) ?? 1;
    if (rank >= size) throw new RangeError(`${r}: rank ${rank} is not below ${s} ${size}`);
    return { rank, size, localRank: int(env, l) ?? 0, source: r };
  }
  return { rank: 0, size: 1, localRank: 0, source: 'none' };
}
