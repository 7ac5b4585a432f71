// Process-wide settings of the native core: threads and the CPU variant in use.
import { native, type CpuInfo, type Isa } from './native.js';

/** CPU features, the variants this build supports here, the one in use and the thread count. */
export function cpuInfo(): CpuInfo {
  return native.cpuInfo();
}

/** Threads every kernel uses (OpenMP). Default: ATTNODE_NUM_THREADS or the number of CPUs. */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Forces a kernel variant for the whole process (as ATTNODE_ISA does at load); throws if unsupported. */
export function setIsa(isa: Isa): Isa {
  return native.setIsa(isa);
}
