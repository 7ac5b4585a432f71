// fs.stat for the folders and files the IO layer is given: a path that does not exist, or that
// lies under a file, is a CheckpointError naming it (not a raw ENOENT/ENOTDIR).
import fs from 'node:fs';
import { CheckpointError } from './errors.js';

/** stat(p); `missing` says what was expected there ("no such directory"). */
export async function statOrThrow(p: string, missing: string): Promise<fs.Stats> {
  try {
    return await fs.promises.stat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError('missing-file', p, undefined, missing);
    if (code === 'ENOTDIR') throw new CheckpointError('not-a-directory', p, undefined, 'is not a directory (a part of the path is a file)');
    throw e;
  }
}
