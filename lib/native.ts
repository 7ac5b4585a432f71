// Loads the addon (prebuilt binary or local build, via node-gyp-build) and types its surface.
// Nothing else in lib/ touches the addon object directly except through `native`.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { AttnodeIsaError, AttnodeLoadError } from './errors.js';

/** Features read from cpuid/xgetbv, the variants this build can run here, and the one in use. */
export interface CpuInfo {
  vendor: string;
  features: Record<'sse42' | 'avx' | 'avx2' | 'fma' | 'avx512f' | 'avx512bw' | 'avx512vl' | 'avx512dq' |
    'avx512bf16' | 'avx512fp16' | 'amxTile' | 'amxBf16', boolean>;
  supportedIsas: Isa[];
  isa: Isa;
  bestIsa: Isa;
  threads: number;
  hardwareThreads: number;
  isaEnvError?: string;
}

export type Isa = 'portable' | 'avx2' | 'avx512';

export interface NativeShape {
  batch: number; heads: number; kvHeads?: number; qLen: number; kvLen: number; headDim: number;
}

/** The raw addon. Its functions check their own arguments; see lib/kernels.ts for the typed API. */
export interface NativeAddon {
  cpuInfo(): CpuInfo;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setIsa(isa: string): Isa;
  attentionForward(q: Float32Array, k: Float32Array, v: Float32Array, shape: NativeShape, opts?: object):
    { out: Float32Array; lse: Float32Array };
  attentionForwardAsync(q: Float32Array, k: Float32Array, v: Float32Array, shape: NativeShape, opts?: object):
    Promise<{ out: Float32Array; lse: Float32Array }>;
  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dout: Float32Array, shape: NativeShape, opts?: object): { dq: Float32Array; dk: Float32Array; dv: Float32Array };
  attentionBackwardAsync(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dout: Float32Array, shape: NativeShape, opts?: object): Promise<{ dq: Float32Array; dk: Float32Array; dv: Float32Array }>;
  dropoutKeep(seed: number | bigint, b: number, h: number, i: number, j: number, p: number): boolean;
}

/** The package root (where binding.gyp and prebuilds/ live), from dist/ or lib/. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const attempts: string[] = [];
  let addon: NativeAddon | undefined;
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    addon = nodeGypBuild(packageRoot) as NativeAddon;
  } catch (e) {
    attempts.push(`node-gyp-build(${packageRoot}): ${(e as Error).message}`);
  }
  if (!addon) {
    throw new AttnodeLoadError(
      'attnode: could not load the native addon for ' + `${process.platform}-${process.arch} (Node ${process.version}).\n` +
      attempts.map((a) => '  tried ' + a).join('\n') +
      '\nFix: install a version with a prebuilt binary for this platform, or build from source with ' +
      '`npm rebuild attnode` (needs python3, make and a C++17 compiler).', attempts);
  }
  const info = addon.cpuInfo();
  if (info.isaEnvError) throw new AttnodeIsaError('attnode: ' + info.isaEnvError);
  return addon;
}

export const native: NativeAddon = load();
