/**
 * Checkpoint directories: everything needed to resume training or to translate, in plain formats.
 *
 *   model.safetensors      weights (F32)
 *   config.json            model configuration
 *   tokenizer.src.json     optional, source tokenizer state
 *   tokenizer.tgt.json     optional, target tokenizer state
 *   optimizer.safetensors  optional, optimizer state tensors; step and hyperparameters in __metadata__
 *   trainer.json           optional, trainer state (RNG state, data position, step, schedule)
 *   checkpoint.json        manifest: format, version, size and SHA-256 of every file above
 *
 * A loader trusts only the manifest: it reads the files the manifest lists and checks each one's
 * size and SHA-256 against it, so any later change to a file shows as a hash mismatch.
 *
 * Replacing a checkpoint is atomic: at every instant (a SIGKILL or power loss at any point of a
 * save) the folder loads as the previous checkpoint or as the new one, never as a mix and never as
 * "incomplete". A save
 *   1. writes and fsyncs every new file into a staging folder inside the checkpoint folder,
 *      `.save.<host>.<pid>.<random>/` (the old checkpoint is untouched), then a manifest whose
 *      entries point there: `"path": ".save.<...>/model.safetensors"`;
 *   2. renames that manifest over checkpoint.json: the switch, one rename; the new checkpoint is
 *      live from here;
 *   3. renames each staged file over its top-level name (a loader holding the staged manifest that
 *      finds a staged file gone reads the top-level one, checked against the same hash);
 *   4. renames a plain manifest (no `path` fields: the layout earlier attnode versions wrote and
 *      read) over checkpoint.json, removes the old checkpoint's files that the new one lacks, and
 *      removes the staging folder.
 * So in the steady state the folder holds just the files above, at the top. A save killed during
 * 1 leaves the old checkpoint plus a dead staging folder; one killed during 3-4 leaves the new
 * checkpoint, some of it still staged (the top-level files then mix two saves until the next
 * save: only the manifest says which files are current).
 *
 * Leftovers of interrupted saves are removed by the next save and by the next load: staging
 * folders and `.<file>.<pid>.<hex>.tmp` files (the latter left by earlier attnode versions) whose
 * writing process, on this host, is no longer alive, and that the current manifest does not point
 * into. A save also removes other hosts' staging folders, and the previous checkpoint's files that
 * its own manifest does not list; other files in the folder are never touched. Cleaning is
 * best-effort: a read-only folder loads and keeps its leftovers.
 *
 * A load concurrent with a save never returns a mix: a file replaced or removed under a loader
 * fails its hash or is missing; the loader then rereads the manifest and, if it changed, starts
 * over (a few times, then a `concurrent-save` CheckpointError). Two saves into one folder at once
 * are not supported (the folder may then fail its hashes on load; it never loads as a mix).
 * Folders whose manifest has no `path` fields (all that earlier versions wrote) load as before.
 * The model and trainer supply and receive plain data: this module knows nothing of their classes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syncDir } from './atomic.js';
import { CheckpointError } from './errors.js';
import { checkJsonObject, type JsonObject } from './json.js';
import { statOrThrow } from './stat.js';
import { encodeSafetensorsChunks, parseSafetensors, type Float32Tensor, type SafetensorsFile } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'attnode-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const MANIFEST_FILE = 'checkpoint.json';

/** A tensor as the model and optimizer hand it over: shape and row-major float32 data. */
export interface CheckpointTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface OptimizerState {
  /** Updates taken so far (a non-negative safe integer). */
  readonly step: number;
  /** Per-parameter state tensors, e.g. Adam moments, under names the optimizer chooses. */
  readonly state: ReadonlyMap<string, CheckpointTensor>;
  /** Hyperparameters (learning rate, betas, ...) as plain JSON. */
  readonly hyper: object;
}

/** What {@link saveCheckpoint} writes. Objects must be plain JSON (see checkJsonValue). */
export interface CheckpointInput {
  readonly config: object;
  readonly weights: ReadonlyMap<string, CheckpointTensor>;
  readonly tokenizers?: { readonly src?: object; readonly tgt?: object };
  readonly optimizer?: OptimizerState;
  /** Trainer state: RNG state, data position, step, LR schedule ... as plain JSON. */
  readonly trainer?: object;
}

/** What {@link loadCheckpoint} returns: the same structure, with fresh arrays. */
export interface Checkpoint {
  readonly config: JsonObject;
  readonly weights: Map<string, Float32Tensor>;
  readonly tokenizers?: { readonly src?: JsonObject; readonly tgt?: JsonObject };
  readonly optimizer?: { readonly step: number; readonly state: Map<string, Float32Tensor>; readonly hyper: JsonObject };
  readonly trainer?: JsonObject;
}

export interface ManifestEntry {
  readonly bytes: number;
  readonly sha256: string;
  /**
   * Where the file is, relative to the folder, when not at its name: only in the manifest of a save
   * between its switch and its end (a staged file, `.save.<host>.<pid>.<random>/<name>`).
   */
  readonly path?: string;
}
export interface CheckpointManifest {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: number;
  readonly files: Readonly<Record<string, ManifestEntry>>;
}

export interface LoadCheckpointOptions {
  /** Exact tensor names expected; a missing or unexpected name is a `missing-tensor` error listing them. */
  readonly expect?: { readonly weights?: Iterable<string>; readonly optimizerState?: Iterable<string> };
  /** Reject NaN or infinity in weights and optimizer state (a SafetensorsError naming the file, tensor and index). */
  readonly finite?: boolean;
}

const FILES = {
  model: 'model.safetensors', config: 'config.json', src: 'tokenizer.src.json', tgt: 'tokenizer.tgt.json',
  optimizer: 'optimizer.safetensors', trainer: 'trainer.json',
} as const;
const KNOWN_FILES: readonly string[] = Object.values(FILES);
const REQUIRED_FILES: readonly string[] = [FILES.model, FILES.config];

type Chunks = Uint8Array[];

function jsonChunks(value: object | undefined, what: string, space: number | undefined): Chunks {
  checkJsonObject(value, what);
  return [Buffer.from(JSON.stringify(value, null, space) + '\n', 'utf8')];
}

function tensorChunks(tensors: ReadonlyMap<string, CheckpointTensor>, what: string, metadata: Record<string, string>): Chunks {
  if (!(tensors instanceof Map)) throw new TypeError(`${what} must be a Map of name -> { shape, data }`);
  const entries = new Map<string, { shape: readonly number[]; data: Float32Array; dtype: 'F32' }>();
  for (const [name, t] of tensors) {
    if (!(t?.data instanceof Float32Array)) throw new TypeError(`${what}['${name}'].data must be a Float32Array`);
    entries.set(name, { shape: t.shape, data: t.data, dtype: 'F32' });
  }
  return encodeSafetensorsChunks(entries, { metadata });
}

/** Staging folders: `.save.<host>.<pid>.<12 hex>` (see the module comment). */
const STAGE_RE = /^\.save\.([A-Za-z0-9_-]{1,40})\.(\d{1,10})\.([0-9a-f]{12})$/;
/** Temporary files of writeFileAtomic, as earlier attnode versions left them in a checkpoint folder. */
const TMP_RE = /^\.(.+)\.(\d{1,10})\.[0-9a-f]{12}\.tmp$/;
/** This host, as staging folder names spell it. */
const HOST = os.hostname().replace(/[^A-Za-z0-9-]/g, '_').slice(0, 40) || 'host';
/** Staging folders (as `resolved dir\0name`) of saves running in this process. */
const inflight = new Set<string>();
/** Attempts of a load whose files keep changing under it (concurrent saves) before `concurrent-save`. */
const LOAD_ATTEMPTS = 8;

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/** Throws a CheckpointError unless `dir` is an existing directory. */
export async function checkCheckpointDir(dir: string): Promise<void> {
  const st = await statOrThrow(dir, 'no such directory');
  if (!st.isDirectory()) throw new CheckpointError('not-a-directory', dir, undefined, 'is a file, not a directory');
}

/** Writes a new file (never an existing one) and fsyncs it; on failure removes what it wrote. */
async function writeDurable(file: string, chunks: Iterable<Uint8Array>): Promise<void> {
  const handle = await fs.promises.open(file, 'wx');
  try {
    for (const chunk of chunks) {
      for (let off = 0; off < chunk.length;) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
    }
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fs.promises.unlink(file).catch(() => undefined);
    throw e;
  }
  await handle.close();
}

/** The staging folders the current manifest of `dir` points into; undefined when it cannot be read. */
async function referencedStages(dir: string): Promise<Set<string> | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? new Set() : undefined;
  }
  const out = new Set<string>();
  try {
    const files = (JSON.parse(text) as { files?: Record<string, { path?: unknown }> }).files ?? {};
    for (const e of Object.values(files)) if (typeof e?.path === 'string') out.add(e.path.split('/')[0]!);
  } catch { /* an unreadable manifest points nowhere */ }
  return out;
}

/**
 * Removes what interrupted saves left in `dir` (see the module comment): staging folders and
 * earlier versions' .tmp files whose writer is gone, unless the current manifest points into them.
 * A save (mode 'save') also removes staging folders of other hosts. Best-effort: errors (a
 * read-only folder, a file in use) leave the leftover for next time.
 */
async function cleanLeftovers(dir: string, mode: 'save' | 'load'): Promise<void> {
  let names: string[];
  try { names = await fs.promises.readdir(dir); } catch { return; }
  const stages: string[] = [], temps: string[] = [];
  for (const name of names) {
    const m = STAGE_RE.exec(name);
    if (m) {
      const [, host, pid] = m;
      // This process's own: a save's in-flight folder, or one a failed save could not remove.
      const gone = host !== HOST ? mode === 'save'
        : Number(pid) === process.pid ? mode === 'save' && !inflight.has(`${path.resolve(dir)}\0${name}`) : !pidAlive(Number(pid));
      if (gone) stages.push(name);
      continue;
    }
    const t = TMP_RE.exec(name);
    if (t && (KNOWN_FILES.includes(t[1]!) || t[1] === MANIFEST_FILE) && !pidAlive(Number(t[2]))) temps.push(name);
  }
  if (stages.length === 0 && temps.length === 0) return;
  // Read after the owners were found dead: a dead save cannot switch the manifest to its staging
  // folder any more, so one the manifest does not reference now it never will.
  const referenced = await referencedStages(dir);
  if (referenced === undefined) return;
  for (const name of stages) {
    if (!referenced.has(name)) await fs.promises.rm(path.join(dir, name), { recursive: true, force: true }).catch(() => undefined);
  }
  for (const name of temps) await fs.promises.unlink(path.join(dir, name)).catch(() => undefined);
}

/**
 * Writes a checkpoint into `dir` (created if needed). A previous checkpoint there is replaced
 * atomically (see the module comment): until the new one is complete, the folder loads as the
 * old one. The previous checkpoint's optional files that this one lacks, and leftovers of
 * interrupted saves, are removed. Everything is validated before the first byte is written.
 * Returns the manifest. Two saves into one directory at once are not supported.
 */
export async function saveCheckpoint(dir: string, ckpt: CheckpointInput): Promise<CheckpointManifest> {
  const files = new Map<string, Chunks>();
  files.set(FILES.model, tensorChunks(ckpt.weights, 'saveCheckpoint: weights', { format: 'attnode' }));
  files.set(FILES.config, jsonChunks(ckpt.config, 'saveCheckpoint: config', 2));
  if (ckpt.tokenizers?.src !== undefined) files.set(FILES.src, jsonChunks(ckpt.tokenizers.src, 'saveCheckpoint: tokenizers.src', undefined));
  if (ckpt.tokenizers?.tgt !== undefined) files.set(FILES.tgt, jsonChunks(ckpt.tokenizers.tgt, 'saveCheckpoint: tokenizers.tgt', undefined));
  if (ckpt.optimizer !== undefined) {
    const { step, state, hyper } = ckpt.optimizer;
    if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`saveCheckpoint: optimizer.step must be a non-negative integer, got ${step}`);
    checkJsonObject(hyper, 'saveCheckpoint: optimizer.hyper');
    const metadata = { format: 'attnode', step: String(step), hyper: JSON.stringify(hyper) };
    files.set(FILES.optimizer, tensorChunks(state, 'saveCheckpoint: optimizer.state', metadata));
  }
  if (ckpt.trainer !== undefined) files.set(FILES.trainer, jsonChunks(ckpt.trainer, 'saveCheckpoint: trainer', 2));

  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') await checkCheckpointDir(dir);
    throw e;
  }
  await checkCheckpointDir(dir);
  await cleanLeftovers(dir, 'save'); // frees the space of dead saves before this one needs it

  const stage = `.save.${HOST}.${process.pid}.${crypto.randomBytes(6).toString('hex')}`;
  const stageDir = path.join(dir, stage);
  const key = `${path.resolve(dir)}\0${stage}`;
  const entries: Record<string, ManifestEntry> = {};
  const staged: Record<string, ManifestEntry> = {};
  for (const [name, chunks] of files) {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    for (const c of chunks) { hash.update(c); bytes += c.length; }
    entries[name] = { bytes, sha256: hash.digest('hex') };
    staged[name] = { ...entries[name], path: `${stage}/${name}` };
  }
  const manifestText = (f: Record<string, ManifestEntry>) =>
    [Buffer.from(JSON.stringify({ format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, files: f }, null, 2) + '\n', 'utf8')];
  const manifestPath = path.join(dir, MANIFEST_FILE), stagedManifest = path.join(stageDir, MANIFEST_FILE);

  inflight.add(key);
  let live = false; // whether checkpoint.json points into the staging folder (then it must stay)
  try {
    await fs.promises.mkdir(stageDir);
    // 1. The new files, durable, beside the old checkpoint; then a manifest pointing at them.
    for (const [name, chunks] of files) await writeDurable(path.join(stageDir, name), chunks);
    await writeDurable(stagedManifest, manifestText(staged));
    await syncDir(stageDir);
    // 2. The switch.
    await fs.promises.rename(stagedManifest, manifestPath);
    live = true;
    await syncDir(dir);
    // 3. Each staged file to its top-level name (the staged manifest finds it there too).
    for (const name of files.keys()) await fs.promises.rename(path.join(stageDir, name), path.join(dir, name));
    await syncDir(dir);
    await syncDir(stageDir);
    // 4. The plain manifest; then the old checkpoint's files this one lacks, and the staging folder.
    await writeDurable(stagedManifest, manifestText(entries));
    await fs.promises.rename(stagedManifest, manifestPath);
    live = false;
    await syncDir(dir);
    for (const name of KNOWN_FILES) if (!files.has(name)) await fs.promises.rm(path.join(dir, name), { force: true });
  } finally {
    inflight.delete(key);
    if (!live) await fs.promises.rm(stageDir, { recursive: true, force: true }).catch(() => undefined);
  }
  await cleanLeftovers(dir, 'save'); // e.g. the staging folder the previous manifest pointed into
  await syncDir(dir);
  return { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, files: entries };
}

interface ManifestRead { readonly manifest: CheckpointManifest; readonly text: string }

async function readManifest(dir: string): Promise<ManifestRead> {
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await checkCheckpointDir(dir);
    throw new CheckpointError('incomplete', dir, MANIFEST_FILE,
      'missing: not a checkpoint, or its first save did not finish (or an earlier attnode\'s save was interrupted)');
  }
  const bad = (code: 'corrupt' | 'format-version', problem: string): never => { throw new CheckpointError(code, dir, MANIFEST_FILE, problem); };
  let m: unknown;
  try { m = JSON.parse(text); } catch (e) { return bad('corrupt', `not valid JSON (${(e as Error).message})`); }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return bad('corrupt', 'not a JSON object');
  const { format, version, files } = m as Record<string, unknown>;
  if (format !== CHECKPOINT_FORMAT) bad('format-version', `format is ${JSON.stringify(format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (version !== CHECKPOINT_VERSION) {
    bad('format-version', `format version ${JSON.stringify(version)} is not readable here (this attnode reads version ${CHECKPOINT_VERSION})`);
  }
  if (files === null || typeof files !== 'object' || Array.isArray(files)) return bad('corrupt', 'files must be an object');
  for (const [name, entry] of Object.entries(files)) {
    if (!KNOWN_FILES.includes(name)) bad('corrupt', `lists an unknown file ${JSON.stringify(name)}`);
    const e = entry as Partial<ManifestEntry> | null;
    if (!e || !Number.isSafeInteger(e.bytes) || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      bad('corrupt', `entry for ${name} must be { bytes, sha256 }`);
    }
    if (e?.path !== undefined) {
      const [stage, file, ...more] = typeof e.path === 'string' ? e.path.split('/') : [];
      if (!STAGE_RE.test(stage ?? '') || file !== name || more.length) bad('corrupt', `entry for ${name} has a path other than .save.<host>.<pid>.<hex>/${name}`);
    }
  }
  for (const name of REQUIRED_FILES) if (!(name in files)) bad('corrupt', `does not list ${name}`);
  return { manifest: m as CheckpointManifest, text };
}

/** Reads and checks the manifest of `dir` (format, version, file list), without reading the files. */
export async function readCheckpointManifest(dir: string): Promise<CheckpointManifest> {
  await checkCheckpointDir(dir);
  return (await readManifest(dir)).manifest;
}

/**
 * Reads one listed file and checks its size and SHA-256 against the manifest. A staged file
 * (`path`) that is gone has been moved to its top-level name by the save: it is read there.
 */
async function readVerified(dir: string, name: string, entry: ManifestEntry): Promise<Buffer> {
  let buf: Buffer | undefined;
  for (const at of entry.path === undefined ? [name] : [entry.path, name]) {
    try {
      buf = await fs.promises.readFile(path.join(dir, at));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  if (buf === undefined) throw new CheckpointError('missing-file', dir, name, 'listed in the manifest but missing');
  if (buf.length !== entry.bytes) {
    throw new CheckpointError('corrupt', dir, name, `has ${buf.length} bytes, the manifest says ${entry.bytes} (truncated or replaced)`);
  }
  const sha = crypto.createHash('sha256').update(buf).digest('hex');
  if (sha !== entry.sha256) throw new CheckpointError('corrupt', dir, name, `SHA-256 ${sha} differs from the manifest's ${entry.sha256}: the file is corrupt`);
  return buf;
}

/**
 * Reads the manifest and every file it lists, verified. A file missing or differing from the
 * manifest while the manifest itself has changed meanwhile is a save replacing the checkpoint
 * under us: start over with the new manifest (the files never mix two saves).
 */
async function readAllVerified(dir: string): Promise<{ manifest: CheckpointManifest; bufs: Map<string, Buffer> }> {
  await checkCheckpointDir(dir);
  let sameManifest = 0;
  for (let attempt = 1; ; attempt++) {
    const { manifest, text } = await readManifest(dir);
    try {
      const bufs = new Map<string, Buffer>();
      for (const [name, entry] of Object.entries(manifest.files)) bufs.set(name, await readVerified(dir, name, entry));
      return { manifest, bufs };
    } catch (e) {
      if (!(e instanceof CheckpointError) || (e.code !== 'missing-file' && e.code !== 'corrupt')) throw e;
      const now = await fs.promises.readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
      // The manifest still says so: the folder really is damaged. Twice, in case saves went A, B, A.
      if (now === text && ++sameManifest === 2) throw e;
      if (attempt >= LOAD_ATTEMPTS) {
        throw new CheckpointError('concurrent-save', dir, undefined,
          `was replaced ${attempt} times while being read (saves in progress): read it again`, { cause: e });
      }
      await new Promise((r) => setTimeout(r, 5 * attempt));
    }
  }
}

/** Verifies every file of the checkpoint in `dir` against its manifest, without parsing them. */
export async function verifyCheckpoint(dir: string): Promise<CheckpointManifest> {
  return (await readAllVerified(dir)).manifest;
}

function parseJsonFile(dir: string, name: string, buf: Buffer): JsonObject {
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    checkJsonObject(v, name);
    return v;
  } catch (e) {
    throw new CheckpointError('corrupt', dir, name, `does not parse as a JSON object: ${(e as Error).message}`, { cause: e });
  }
}

function checkNames(dir: string, file: string, found: Iterable<string>, expected: Iterable<string> | undefined): void {
  if (expected === undefined) return;
  const have = new Set(found);
  const want = new Set(expected);
  const missing = [...want].filter((n) => !have.has(n));
  const extra = [...have].filter((n) => !want.has(n));
  if (missing.length || extra.length) {
    const list = (xs: string[]) => xs.slice(0, 8).map((x) => `'${x}'`).join(', ') + (xs.length > 8 ? `, ... (${xs.length} in all)` : '');
    const parts = [missing.length ? `missing tensors ${list(missing)}` : '', extra.length ? `unexpected tensors ${list(extra)}` : ''];
    throw new CheckpointError('missing-tensor', dir, file, parts.filter(Boolean).join('; '));
  }
}

/**
 * Loads the checkpoint in `dir`: checks the manifest, the size and SHA-256 of every listed file,
 * and parses them. Throws a CheckpointError whose `code` says what is wrong. Afterwards removes
 * leftovers of interrupted saves (best-effort; see the module comment).
 */
export async function loadCheckpoint(dir: string, opts?: LoadCheckpointOptions): Promise<Checkpoint> {
  let bufs: Map<string, Buffer>;
  try {
    bufs = (await readAllVerified(dir)).bufs;
  } finally {
    await cleanLeftovers(dir, 'load');
  }

  const tensors = (name: string): SafetensorsFile => {
    try {
      return parseSafetensors(bufs.get(name) as Buffer, { file: path.join(dir, name) });
    } catch (e) {
      throw new CheckpointError('corrupt', dir, name, (e as Error).message, { cause: e });
    }
  };
  const model = tensors(FILES.model);
  checkNames(dir, FILES.model, model.names(), opts?.expect?.weights);
  const out: { -readonly [K in keyof Checkpoint]: Checkpoint[K] } = {
    config: parseJsonFile(dir, FILES.config, bufs.get(FILES.config) as Buffer),
    weights: model.float32All({ finite: opts?.finite }), // non-finite: a SafetensorsError naming the tensor
  };
  const src = bufs.get(FILES.src);
  const tgt = bufs.get(FILES.tgt);
  if (src || tgt) {
    out.tokenizers = {
      ...(src ? { src: parseJsonFile(dir, FILES.src, src) } : {}),
      ...(tgt ? { tgt: parseJsonFile(dir, FILES.tgt, tgt) } : {}),
    };
  }
  if (bufs.has(FILES.optimizer)) {
    const opt = tensors(FILES.optimizer);
    checkNames(dir, FILES.optimizer, opt.names(), opts?.expect?.optimizerState);
    const step = Number(opt.metadata.step);
    if (!/^\d+$/.test(opt.metadata.step ?? '') || !Number.isSafeInteger(step)) {
      throw new CheckpointError('corrupt', dir, FILES.optimizer, `__metadata__.step ${JSON.stringify(opt.metadata.step)} is not a step count`);
    }
    const hyper = parseJsonFile(dir, `${FILES.optimizer} __metadata__.hyper`, Buffer.from(opt.metadata.hyper ?? '', 'utf8'));
    out.optimizer = { step, state: opt.float32All({ finite: opts?.finite }), hyper };
  } else if (opts?.expect?.optimizerState !== undefined) {
    throw new CheckpointError('missing-tensor', dir, FILES.optimizer, 'optimizer state was expected, but the checkpoint has none');
  }
  const trainer = bufs.get(FILES.trainer);
  if (trainer) out.trainer = parseJsonFile(dir, FILES.trainer, trainer);
  return out;
}
