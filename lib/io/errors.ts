/**
 * Errors for files on disk that are malformed, truncated or corrupt. Bad arguments from the caller
 * stay TypeError/RangeError (the project-wide rule); these are for what was read from a file, so
 * they carry the file (and the tensor) for a program to report or act on.
 */

/** A safetensors file (or buffer) is malformed, or one of its tensors cannot be used as asked. */
export class SafetensorsError extends Error {
  /** The file path, or the label given for an in-memory buffer. */
  readonly file: string;
  /** The tensor the problem is about, when there is one. */
  readonly tensor: string | undefined;
  constructor(file: string, tensor: string | undefined, problem: string) {
    super(`${file}: ${tensor === undefined ? '' : `tensor '${tensor}': `}${problem}`);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

/**
 * Why a checkpoint could not be loaded:
 * - `incomplete`: no manifest: not a checkpoint, or the first save into the folder did not finish
 *   (or a save by an earlier attnode, which removed the manifest first, was interrupted);
 * - `not-a-directory`: the path given as the checkpoint (or model) folder is a file, or lies under one;
 * - `missing-file`: the folder does not exist, or the manifest lists a file that is not there;
 * - `corrupt`: a file's size or SHA-256 differs from the manifest, or a file does not parse;
 * - `format-version`: the manifest is of another format or a version this code does not read;
 * - `missing-tensor`: the tensors differ from the set the caller expected;
 * - `concurrent-save`: saves into the folder kept replacing the checkpoint while it was being read
 *   (the loader retries several times first); reading again later succeeds. Never a mix of two saves.
 */
export type CheckpointErrorCode =
  'incomplete' | 'not-a-directory' | 'missing-file' | 'corrupt' | 'format-version' | 'missing-tensor' | 'concurrent-save';

/** A checkpoint directory is incomplete, corrupt, or not what the caller expected. */
export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;
  /** The checkpoint directory. */
  readonly dir: string;
  /** The file inside `dir` the problem is about, when there is one. */
  readonly file: string | undefined;
  constructor(code: CheckpointErrorCode, dir: string, file: string | undefined, problem: string, options?: { cause?: unknown }) {
    super(`checkpoint ${dir}${file === undefined ? '' : `/${file}`}: ${problem}`, options);
    this.name = 'CheckpointError';
    this.code = code;
    this.dir = dir;
    this.file = file;
  }
}
