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
 * Every file is written atomically, and the manifest last (after the previous manifest has been
 * removed), so a save interrupted at any point leaves a directory without a manifest, which loading
 * reports as incomplete, and any later change to a file shows as a hash mismatch. The model and
 * trainer supply and receive plain data: this module knows nothing of their classes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { syncDir, writeFileAtomic } from './atomic.js';
import { CheckpointError } from './errors.js';
import { checkJsonObject, type JsonObject } from './json.js';
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

export interface ManifestEntry { readonly bytes: number; readonly sha256: string }
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

/**
 * Writes a checkpoint into `dir` (created if needed; a previous checkpoint there is replaced, and
 * its optional files that this one lacks are removed). Everything is validated before the first
 * byte is written. Returns the manifest. Two saves into one directory at once are not supported.
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

  await fs.promises.mkdir(dir, { recursive: true });
  // From here until the new manifest lands, the directory has none: an interrupted save reads as incomplete.
  await fs.promises.rm(path.join(dir, MANIFEST_FILE), { force: true });
  for (const name of KNOWN_FILES) if (!files.has(name)) await fs.promises.rm(path.join(dir, name), { force: true });
  await syncDir(dir);

  const manifest: { format: typeof CHECKPOINT_FORMAT; version: number; files: Record<string, ManifestEntry> } = {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, files: {},
  };
  for (const [name, chunks] of files) {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    for (const c of chunks) { hash.update(c); bytes += c.length; }
    await writeFileAtomic(path.join(dir, name), chunks);
    manifest.files[name] = { bytes, sha256: hash.digest('hex') };
  }
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Reads and checks the manifest of `dir` (format, version, file list), without reading the files. */
export async function readCheckpointManifest(dir: string): Promise<CheckpointManifest> {
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const exists = await fs.promises.stat(dir).then((s) => s.isDirectory(), () => false);
    if (!exists) throw new CheckpointError('missing-file', dir, undefined, 'no such directory');
    throw new CheckpointError('incomplete', dir, MANIFEST_FILE,
      'missing: not a checkpoint, or a save that did not finish (the manifest is written last)');
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
  }
  for (const name of REQUIRED_FILES) if (!(name in files)) bad('corrupt', `does not list ${name}`);
  return m as CheckpointManifest;
}

/** Reads one listed file and checks its size and SHA-256 against the manifest. */
async function readVerified(dir: string, name: string, entry: ManifestEntry): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(path.join(dir, name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CheckpointError('missing-file', dir, name, 'listed in the manifest but missing');
    throw e;
  }
  if (buf.length !== entry.bytes) {
    throw new CheckpointError('corrupt', dir, name, `has ${buf.length} bytes, the manifest says ${entry.bytes} (truncated or replaced)`);
  }
  const sha = crypto.createHash('sha256').update(buf).digest('hex');
  if (sha !== entry.sha256) throw new CheckpointError('corrupt', dir, name, `SHA-256 ${sha} differs from the manifest's ${entry.sha256}: the file is corrupt`);
  return buf;
}

/** Verifies every file of the checkpoint in `dir` against its manifest, without parsing them. */
export async function verifyCheckpoint(dir: string): Promise<CheckpointManifest> {
  const manifest = await readCheckpointManifest(dir);
  for (const [name, entry] of Object.entries(manifest.files)) await readVerified(dir, name, entry);
  return manifest;
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
 * and parses them. Throws a CheckpointError whose `code` says what is wrong.
 */
export async function loadCheckpoint(dir: string, opts?: LoadCheckpointOptions): Promise<Checkpoint> {
  const manifest = await readCheckpointManifest(dir);
  const bufs = new Map<string, Buffer>();
  for (const [name, entry] of Object.entries(manifest.files)) bufs.set(name, await readVerified(dir, name, entry));

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
