// Child process of test/io.checkpoint.kill.test.ts: saves checkpointFor(n), n = start, start + 1,
// ... into a folder, forever, printing "saved n" after each save completes, until it is killed.
// Usage: node checkpoint-saver.mjs <dir> <start>. Imports lib/io alone (not dist/index.js), so it
// starts fast and does not need the native addon.
import { saveCheckpoint } from '../../dist/io/index.js';
import { checkpointFor } from './checkpoint-kill-data.mjs';

const [dir, start] = process.argv.slice(2);
process.stdout.write('ready\n');
for (let n = Number(start); ; n++) {
  await saveCheckpoint(dir, checkpointFor(n));
  process.stdout.write(`saved ${n}\n`);
}
