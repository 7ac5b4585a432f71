// The package root (where package.json, binding.gyp and prebuilds/ live), found from this file's
// own location: dist/package-root.js (ESM) or dist/cjs/package-root.js (CommonJS).
// This is the ONE place in lib/ that may use import.meta: scripts/build-cjs.mjs rewrites
// `import.meta.url` here into its CommonJS equivalent when it emits dist/cjs/, and fails the
// build if import.meta shows up in any other file. Everything else imports packageRoot.
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';

function findRoot(start: string): string {
  // Walk up to the first package.json with a name: the same answer from dist/, dist/cjs/ (whose
  // package.json only says "type": "commonjs") and lib/ (vitest running the sources).
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (typeof pkg.name === 'string') return dir;
    } catch { /* no package.json here: keep going */ }
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
}

// @ts-ignore -- TS1343 in the CommonJS build; scripts/build-cjs.mjs replaces this expression there.
const here: string = fileURLToPath(import.meta.url);

export const packageRoot: string = findRoot(path.dirname(here));
