// Finds and loads the native addon, recording why each candidate binary was or was not used.
// Order: ATTNODE_BINARY (alone, when set) -> prebuilds/<platform>-<arch>/*.node whose tags fit this
// runtime and libc -> build/Release/attnode.node (node-gyp: `npm rebuild attnode`) ->
// build-cmake/Release/attnode.node (`npm run build:cmake`). No network, no compiler.
// We do this ourselves rather than through node-gyp-build so that the error can say what every
// candidate did (node-gyp-build stops at the first file it finds) and detect musl reliably.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { AttnodeLoadError, type LoadAttempt } from './errors.js';

export type Libc = 'glibc' | 'musl';

/** What a prebuild's file name says about it (prebuildify naming: attnode.glibc.node, node.napi.musl.node). */
export interface PrebuildTags {
  file: string;
  runtime?: string;
  napi: boolean;
  abi?: string;
  libc?: Libc;
}

/** The C library of this process: glibc reports its version in process.report, musl does not. */
export function detectLibc(): Libc | undefined {
  if (process.platform !== 'linux') return undefined;
  const forced = process.env.LIBC; // same override node-gyp-build honours
  if (forced === 'glibc' || forced === 'musl') return forced;
  // excludeNetwork (Node >= 20.13) keeps getReport from resolving host names, which can be slow.
  const report = process.report as (typeof process.report & { excludeNetwork?: boolean }) | undefined;
  const prev = report?.excludeNetwork;
  try {
    if (report && prev !== undefined) report.excludeNetwork = true;
    const r = report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return r?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch {
    return fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
  } finally {
    if (report && prev !== undefined) report.excludeNetwork = prev;
  }
}

export function parsePrebuildTags(file: string): PrebuildTags {
  const tags: PrebuildTags = { file, napi: false };
  for (const tag of file.replace(/\.node$/, '').split('.')) {
    if (tag === 'napi') tags.napi = true;
    else if (/^abi\d+$/.test(tag)) tags.abi = tag.slice(3);
    else if (tag === 'glibc' || tag === 'musl') tags.libc = tag;
    else if (tag === 'node' || tag === 'electron' || tag === 'node-webkit') tags.runtime = tag;
  }
  return tags;
}

/**
 * x86-64-v2 features the baseline code is compiled for (-march=x86-64-v2). A CPU without them would
 * die of SIGILL inside the addon, so we check /proc/cpuinfo before loading and report instead.
 */
export function missingCpuBaseline(cpuinfo?: string): string[] {
  if (process.arch !== 'x64' || process.platform !== 'linux') return [];
  let text = cpuinfo;
  if (text === undefined) {
    try { text = fs.readFileSync('/proc/cpuinfo', 'utf8'); } catch { return []; }
  }
  const line = /^flags\s*:(.*)$/m.exec(text);
  if (!line) return [];
  const flags = new Set(line[1]!.trim().split(/\s+/));
  return ['cx16', 'lahf_lm', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'].filter((f) => !flags.has(f));
}

/** A binary to try; `skip` (the whole reason) when it is known not to fit without trying it. */
interface Candidate { file: string; skip?: string }

function prebuildCandidates(root: string, libc: Libc | undefined, attempts: LoadAttempt[]): Candidate[] {
  const tuple = `${process.platform}-${process.arch}`;
  const base = path.join(root, 'prebuilds');
  const dir = path.join(base, tuple);
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node')).sort();
  } catch {
    let others: string[] = [];
    try { others = fs.readdirSync(base); } catch { /* no prebuilds/ at all */ }
    attempts.push({
      file: dir,
      reason: others.length ? `no prebuilt binary for ${tuple} (this package has: ${others.join(', ')})`
        : 'this package ships no prebuilt binaries',
    });
    return [];
  }
  const fitting: Candidate[] = [];
  const untagged: Candidate[] = [];
  for (const f of files) {
    const tags = parsePrebuildTags(f);
    const file = path.join(dir, f);
    if (tags.runtime && tags.runtime !== 'node') fitting.push({ file, skip: `skipped: built for ${tags.runtime}, not Node` });
    else if (!tags.napi && tags.abi && tags.abi !== process.versions.modules) {
      // prebuildify >= 6 names N-API builds with no ABI tag (attnode.glibc.node); abiNN is one Node ABI.
      fitting.push({ file, skip: `skipped: built for Node ABI ${tags.abi}, this Node has ${process.versions.modules}` });
    } else if (tags.libc && libc && tags.libc !== libc) fitting.push({ file, skip: `skipped: built for ${tags.libc}, this system uses ${libc}` });
    else if (tags.libc) fitting.push({ file });
    else untagged.push({ file }); // no libc tag: try after the exact matches
  }
  if (!files.length) attempts.push({ file: dir, reason: 'folder has no .node file' });
  return [...fitting, ...untagged];
}

/** Every candidate in order; skipped ones carry the reason they are not tried. */
export function listCandidates(root: string, libc = detectLibc(), attempts: LoadAttempt[] = []): Candidate[] {
  const forced = process.env.ATTNODE_BINARY;
  if (forced) return [{ file: path.resolve(forced) }];
  const out = prebuildCandidates(root, libc, attempts);
  for (const rel of ['build/Release/attnode.node', 'build-cmake/Release/attnode.node']) {
    const file = path.join(root, rel);
    if (fs.existsSync(file)) out.push({ file });
    else if (rel.startsWith('build/')) out.push({ file, skip: 'not built (no local build from source)' });
  }
  return out;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.trim();
}

/** The advice that ends the error message, chosen from what went wrong. */
function fixFor(attempts: readonly LoadAttempt[], libc: Libc | undefined, missing: string[]): string {
  const target = `${process.platform}-${process.arch}${libc ? ` (${libc})` : ''}`;
  if (missing.length) {
    return `This CPU lacks x86-64-v2 instructions (${missing.join(', ')}). attnode's binaries, prebuilt or ` +
      'built from source, need an x86-64-v2 CPU (2009+); on a VM, expose the host CPU model (e.g. QEMU -cpu host).';
  }
  const reasons = attempts.map((a) => a.reason).join('\n');
  const rebuild = 'Build from source: allow attnode\'s install script (npm >= 11: `npm approve-scripts attnode`; ' +
    'pnpm: `pnpm approve-builds`), then run `npm rebuild attnode --build-from-source` ' +
    '(needs python3, make and g++ >= 9; see README "Building from source").';
  if (/GLIBC_|GLIBCXX_|CXXABI_/.test(reasons)) {
    return `The prebuilt binary needs a newer glibc/libstdc++ than this system has. ${rebuild}`;
  }
  if (/libgomp/.test(reasons)) {
    return 'The local build links the OpenMP runtime dynamically and libgomp.so.1 is missing: install it ' +
      '(Debian/Ubuntu: apt-get install libgomp1; Alpine: apk add libgomp) or use the prebuilt binary.';
  }
  return `No binary works for ${target}. ${rebuild}`;
}

/**
 * libgomp reads its settings once, when the addon loads. Its default lets a thread that waits at a
 * barrier spin for up to ~300k iterations, which on a busy machine (more runnable processes than
 * cores) burns the time the thread it waits for needs: steps of a small model ran 20x slower under
 * load. 5000 pauses (about 0.2 ms: a pause is ~140 cycles here) covers the gap between two kernel
 * calls of a training step, so the worker threads rarely go to sleep and pay a wake-up (measured on
 * the bench:train step: 500 spins 223 ms, 5000 spins 204 ms on an idle machine; with one busy
 * process beside it, 388 vs 411 ms, against 895 ms at 50000). A user's OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT wins.
 */
const DEFAULT_GOMP_SPINCOUNT = '5000';
function boundOpenMpSpinning(): void {
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
    process.env.GOMP_SPINCOUNT = DEFAULT_GOMP_SPINCOUNT;
  }
}

export interface LoadResult<T> { addon: T; file: string; attempts: LoadAttempt[] }

/**
 * Loads the first candidate that dlopens and looks like attnode (exports cpuInfo).
 * Throws AttnodeLoadError listing every candidate and the fix. `opts.cpuinfo` stands in for
 * /proc/cpuinfo (tests of the CPU check).
 */
export function loadNative<T extends object>(root: string, opts: { cpuinfo?: string } = {}): LoadResult<T> {
  boundOpenMpSpinning();
  const libc = detectLibc();
  const attempts: LoadAttempt[] = [];
  const missing = missingCpuBaseline(opts.cpuinfo);
  const candidates = listCandidates(root, libc, attempts);
  const req = createRequire(path.join(root, 'package.json'));
  for (const c of candidates) {
    if (c.skip) { attempts.push({ file: c.file, reason: c.skip }); continue; }
    if (missing.length) { attempts.push({ file: c.file, reason: 'not tried: CPU lacks ' + missing.join(', ') }); continue; }
    try {
      const addon = req(c.file) as T;
      if (typeof (addon as { cpuInfo?: unknown }).cpuInfo !== 'function') {
        attempts.push({ file: c.file, reason: 'loaded, but it is not an attnode binary (no cpuInfo export)' });
        continue;
      }
      return { addon, file: c.file, attempts };
    } catch (e) {
      attempts.push({ file: c.file, reason: firstLine(e) });
    }
  }
  const message = `attnode: could not load the native addon for ${process.platform}-${process.arch}` +
    `${libc ? ` (${libc})` : ''}, Node ${process.version}.\n` +
    attempts.map((a) => `  - ${a.file}: ${a.reason}`).join('\n') + '\n' + fixFor(attempts, libc, missing);
  throw new AttnodeLoadError(message, attempts);
}
