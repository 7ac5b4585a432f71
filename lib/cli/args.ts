// A small flag parser: --name value, --name=value, --flag, and positionals. Unknown flags are an
// error naming them, so a typo never silently trains the wrong model.
export interface ParsedArgs {
  flags: Map<string, string | true>;
  positionals: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: readonly string[], known: Record<string, 'value' | 'flag'>): ParsedArgs {
  const flags = new Map<string, string | true>(), positionals: string[] = [];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i]!;
    if (!a.startsWith('--') || a === '--') { positionals.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const kind = known[name];
    if (!kind) throw new UsageError(`unknown option --${name} (known: ${Object.keys(known).map((k) => '--' + k).join(', ')})`);
    if (kind === 'flag') { flags.set(name, true); continue; }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return { flags, positionals };
}

export function intFlag(p: ParsedArgs, name: string, fallback: number, min = 1): number {
  const v = p.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${String(v)}`);
  return n;
}

export function numFlag(p: ParsedArgs, name: string, fallback: number, lo: number, hi: number): number {
  const v = p.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isFinite(n) || n < lo || n > hi) throw new UsageError(`--${name} must be a number in [${lo}, ${hi}], got ${String(v)}`);
  return n;
}

export function strFlag(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}
