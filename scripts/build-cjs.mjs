// Emits the CommonJS build of lib/ into dist/cjs/ next to the ESM build in dist/:
//  1. tsc -p tsconfig.cjs.json (module CommonJS, with declarations for `require` users' types);
//  2. replaces `import.meta.url`, which CommonJS lacks, by its CommonJS equivalent. Only
//     lib/package-root.ts may use import.meta (the per-format shim): anywhere else fails the build;
//  3. writes dist/cjs/package.json {"type":"commonjs"} so Node reads dist/cjs/*.js as CommonJS
//     even though the package itself is "type": "module".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'dist', 'cjs');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.cjs.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

const SHIM = "require('node:url').pathToFileURL(__filename).href";
// import.meta in code, not in a comment line (the emitted JS keeps comments).
const usesImportMeta = (text) => text.split('\n').some((l) => !/^\s*(\/\/|\*|\/\*)/.test(l) && l.includes('import.meta'));
const offenders = [];
for (const entry of fs.readdirSync(out, { recursive: true })) {
  const file = path.join(out, String(entry));
  if (!file.endsWith('.js')) continue;
  const text = fs.readFileSync(file, 'utf8');
  if (!usesImportMeta(text)) continue;
  if (path.relative(out, file) !== 'package-root.js') { offenders.push(file); continue; }
  fs.writeFileSync(file, text.replaceAll('import.meta.url', SHIM));
}
if (offenders.length) {
  console.error('build-cjs: import.meta is used outside lib/package-root.ts, which breaks the CommonJS build:\n  ' +
    offenders.join('\n  ') + '\nUse `packageRoot` from lib/package-root.ts instead.');
  process.exit(1);
}
const left = fs.readFileSync(path.join(out, 'package-root.js'), 'utf8');
if (usesImportMeta(left)) { console.error('build-cjs: import.meta left in package-root.js'); process.exit(1); }
fs.writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');
