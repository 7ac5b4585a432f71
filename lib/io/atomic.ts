/**
 * Atomic file replacement: write a temporary file in the target's directory, fsync it, rename it
 * over the target, fsync the directory. rename() within one filesystem is atomic, so a reader (or
 * a crash at any moment) sees either the previous file or the complete new one, never a truncated
 * mix; the fsyncs make the new content and the rename survive a power loss, in that order.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkJsonValue } from './json.js';

/** What can be written: a string (UTF-8), bytes, or chunks of bytes (written in order, never joined). */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array>;

export interface AtomicWriteOptions {
  /** File mode of a new file (subject to the umask). Default: the mode of the file replaced, else 0o666. */
  readonly mode?: number;
  /** fsync the file and directory (default true). Off only for scratch files whose durability does not matter. */
  readonly fsync?: boolean;
}

export interface JsonWriteOptions extends AtomicWriteOptions {
  /** Indentation passed to JSON.stringify (default 2). A newline always ends the file. */
  readonly space?: number | string;
}

/** A name next to the target that no other writer (process or concurrent call) picks. */
function tempPath(target: string): string {
  // Cut long names so the temporary one stays within the usual 255-byte name limit.
  const name = `.${path.basename(target).slice(0, 200)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  return path.join(path.dirname(target), name);
}

function modeFor(target: string, opts: AtomicWriteOptions | undefined): number {
  if (opts?.mode !== undefined) return opts.mode;
  try {
    return fs.statSync(target).mode & 0o7777;
  } catch {
    return 0o666;
  }
}

function* chunksOf(data: AtomicData): Iterable<Uint8Array> {
  if (typeof data === 'string') yield Buffer.from(data, 'utf8');
  else if (data instanceof Uint8Array) yield data;
  else yield* data;
}

/**
 * Some filesystems refuse fsync on a directory (EINVAL), and Windows cannot open one (EISDIR/EPERM).
 * The rename has happened by then; only its durability across a power loss is left to the OS.
 */
function ignorableDirSyncError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EINVAL' || code === 'ENOTSUP' || code === 'EISDIR' || (process.platform === 'win32' && code === 'EPERM');
}

function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    if (!ignorableDirSyncError(e)) throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** fsync a directory, so that renames and removals in it survive a power loss (where the OS allows). */
export async function syncDir(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch (e) {
    if (!ignorableDirSyncError(e)) throw e;
  } finally {
    await handle?.close();
  }
}

function removeQuietlySync(file: string): void {
  try { fs.unlinkSync(file); } catch { /* already gone, or never created */ }
}

/** Replaces `file` atomically with `data` (see the module comment). Creates it if absent. */
export function writeFileAtomicSync(file: string, data: AtomicData, opts?: AtomicWriteOptions): void {
  const target = path.resolve(file);
  const tmp = tempPath(target);
  const doSync = opts?.fsync !== false;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', modeFor(target, opts)); // 'wx': never follow or reuse an existing file
    for (const chunk of chunksOf(data)) {
      // writeSync may write less than asked (large buffers, signals): loop until all is written.
      for (let off = 0; off < chunk.length;) off += fs.writeSync(fd, chunk, off, chunk.length - off);
    }
    if (doSync) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) { try { fs.closeSync(fd); } catch { /* keep the first error */ } }
    removeQuietlySync(tmp);
    throw e;
  }
  if (doSync) syncDirSync(path.dirname(target));
}

/**
 * Replaces `file` atomically with `data`; chunks may also come from an async iterable (a
 * generator that serialises as it goes), so large files need not be joined in memory.
 */
export async function writeFileAtomic(file: string, data: AtomicData | AsyncIterable<Uint8Array>, opts?: AtomicWriteOptions): Promise<void> {
  const target = path.resolve(file);
  const tmp = tempPath(target);
  const doSync = opts?.fsync !== false;
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(tmp, 'wx', modeFor(target, opts));
    const chunks = typeof data === 'string' || data instanceof Uint8Array ? chunksOf(data) : data;
    for await (const chunk of chunks) {
      for (let off = 0; off < chunk.length;) off += (await handle.write(chunk, off, chunk.length - off)).bytesWritten;
    }
    if (doSync) await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, target);
  } catch (e) {
    if (handle !== undefined) { try { await handle.close(); } catch { /* keep the first error */ } }
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (doSync) await syncDir(path.dirname(target));
}

function jsonText(value: unknown, opts: JsonWriteOptions | undefined, what: string): string {
  // JSON.stringify would turn NaN into null and drop undefined silently; refuse instead.
  checkJsonValue(value, what);
  return JSON.stringify(value, null, opts?.space ?? 2) + '\n';
}

/** Writes `value` as JSON atomically; throws (naming the path inside `value`) if it is not plain JSON. */
export function writeJsonAtomicSync(file: string, value: unknown, opts?: JsonWriteOptions): void {
  writeFileAtomicSync(file, jsonText(value, opts, 'writeJsonAtomicSync: value'), opts);
}

/** Writes `value` as JSON atomically; throws (naming the path inside `value`) if it is not plain JSON. */
export async function writeJsonAtomic(file: string, value: unknown, opts?: JsonWriteOptions): Promise<void> {
  await writeFileAtomic(file, jsonText(value, opts, 'writeJsonAtomic: value'), opts);
}
