// The CPU model line of /proc/cpuinfo (Linux), or os.cpus()'s model elsewhere: benchmark output names its machine.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}
