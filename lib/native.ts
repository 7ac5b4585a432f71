// Loads the addon (prebuilt binary or local build; see loader.ts for the order) and types its
// surface. Nothing else in lib/ touches the addon object directly except through `native`.
import { AttnodeIsaError } from './errors.js';
import { loadNative } from './loader.js';
import { packageRoot } from './package-root.js';

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

export type Isa = 'portable' | 'avx2' | 'avx512' | 'avx512bf16';

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

/** The package root (where binding.gyp and prebuilds/ live). */
export { packageRoot };

function load(): { addon: NativeAddon; file: string } {
  const { addon, file } = loadNative<NativeAddon>(packageRoot);
  const info = addon.cpuInfo();
  if (info.isaEnvError) throw new AttnodeIsaError('attnode: ' + info.isaEnvError);
  return { addon, file };
}

const loaded = load();
export const native: NativeAddon = loaded.addon;
/** Absolute path of the .node file in use (a prebuilt binary or a local build). */
export const nativeBinary: string = loaded.file;
