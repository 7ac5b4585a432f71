// Rejects misspelled option names (the addon would silently ignore them): every op lists the keys
// it reads, including those of a nested `into` object.
export function checkKeys(fn: string, what: string, value: unknown, known: readonly string[]): void {
  if (value === undefined || value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TypeError(`${fn}: ${what}.${key} is not an option (known: ${known.join(', ')})`);
    }
  }
}

/** Checks opts against `known`, and opts.into against `intoKeys` when it is a plain object. */
export function checkOptions(fn: string, opts: unknown, known: readonly string[], intoKeys?: readonly string[]): void {
  checkKeys(fn, 'opts', opts, known);
  if (intoKeys && opts !== null && typeof opts === 'object' && 'into' in opts) {
    checkKeys(fn, 'opts.into', (opts as { into?: unknown }).into, intoKeys);
  }
}

/** Runs a sync check-and-start and turns a thrown argument error into a rejected promise. */
export function asPromise<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (e) {
    return Promise.reject(e);
  }
}
