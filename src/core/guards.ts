/** Shape checks for input from peers, shared by protocols' message guards. */

/** A non-negative safe integer: counts, sequence numbers, serials. */
export function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function isSafeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x);
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
