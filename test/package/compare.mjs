// Compares smoke.mjs results against a reference run (default: the portable one) and prints, per
// tensor, the largest absolute difference: `bitwise` when identical, ok within 1e-5, else fails.
//   node compare.mjs [--ref LABEL] [--bitwise] A.json B.json ...
// --bitwise: any difference fails (the same binary on another Node, for instance).
import fs from 'node:fs';

const TOL = 1e-5;
const argv = process.argv.slice(2);
const flag = (name) => { const i = argv.indexOf(name); if (i < 0) return undefined; argv.splice(i, 1); return true; };
const refIdx = argv.indexOf('--ref');
const refLabel = refIdx >= 0 ? argv.splice(refIdx, 2)[1] : 'portable';
const bitwise = flag('--bitwise') ?? false;
const runs = argv.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const ref = runs.find((r) => r.label === refLabel);
if (!ref) throw new Error(`compare: no ${refLabel} run among ` + runs.map((r) => r.label).join(', '));
const num = (x) => (typeof x === 'string' ? Number(x) : x); // -Infinity was stored as a string
let failed = 0;
for (const run of runs) {
  if (run === ref) continue;
  const parts = [];
  for (const [name, want] of Object.entries(ref.results)) {
    const got = run.results[name];
    if (!got || got.length !== want.length) { parts.push(`${name}: length mismatch`); failed++; continue; }
    let max = 0; let same = true;
    for (let i = 0; i < want.length; i++) {
      const a = num(want[i]); const b = num(got[i]);
      if (Object.is(a, b)) continue;
      same = false;
      const d = a === b ? 0 : Math.abs(a - b); // equal infinities differ only by Object.is(-0, 0)
      if (bitwise || !(d <= TOL)) failed++;
      max = Math.max(max, Number.isNaN(d) ? Infinity : d);
    }
    parts.push(`${name} ${same ? 'bitwise' : `max|diff| ${max.toExponential(2)}`}`);
  }
  console.log(`compare: ${run.label} (${run.isa}) vs ${refLabel}: ${parts.join(', ')}`);
}
if (failed) { console.error(`compare: ${failed} values differ from ${refLabel} ${bitwise ? 'at all (--bitwise)' : `by more than ${TOL}`}`); process.exit(1); }
console.log(`compare: ${runs.length} runs agree (${bitwise ? 'bitwise' : `tolerance ${TOL}`})`);
