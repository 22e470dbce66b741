/**
 * Assertions stay on in production (TigerBeetle style): a failed one is a bug in this code, never bad input.
 * Bad input from peers or users is validated and rejected with its own error, not asserted.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
