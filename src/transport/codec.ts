/**
 * The wire codec for protocol messages: MessagePack through msgpackr, configured once, here, for every driver.
 *
 * Options, and why:
 * - `moreTypes: true`: typed arrays travel as a MessagePack extension (type 0x74, element type code, raw
 *   little-endian bytes) and come back as the same typed array. msgpackr's default mode turns a Float64Array
 *   into a Buffer of its bytes on Node 20 (we saw garbage on round-trip); protocols send values as
 *   Float64Array, so this matters. A Buffer still travels as MessagePack `bin` and comes back as a Buffer.
 * - `useRecords: false`: records keep per-connection structure tables, which a stateless codec cannot have.
 * - `structuredClone: false`: refuses the reference/pointer extensions (cycles), so hostile input cannot
 *   reach msgpackr's reference bookkeeping.
 *
 * What round-trips, and what does not (pinned in test/codec.test.ts):
 * - numbers: integers up to 32 bits as MessagePack ints, everything else (larger safe integers, fractions,
 *   NaN, infinities) as float64, so every number comes back equal. Exception: -0 comes back as 0 (msgpackr
 *   writes it as the integer 0); inside a Float64Array -0 survives.
 * - bigint round-trips (int64/uint64, or msgpackr's extension 0x42 beyond 64 bits). Protocols should not send
 *   bigint: any 64-bit integer on the wire decodes as a bigint, so a guard expecting numbers must reject it.
 * - plain objects, arrays, strings, booleans, null, undefined; a Map comes back as a plain object (keys as
 *   strings); a `__proto__` key comes back renamed (msgpackr's guard against prototype pollution).
 * - Set, Date, RegExp and Error also decode (moreTypes), so guards must check shapes, not just `typeof`.
 *
 * Decoding never trusts its input: every failure, including stack exhaustion on deeply nested input, becomes a
 * `CodecError`. Frames are size-capped before they get here (framing.ts), which bounds the work per message.
 */
import { C1, Packr } from 'msgpackr';

export class CodecError extends Error {
  override readonly name = 'CodecError';
}

const packr = new Packr({ moreTypes: true, useRecords: false, structuredClone: false });

/**
 * Encodes a message. The bytes are a view into msgpackr's shared output buffer; msgpackr never writes over
 * bytes it has returned (it moves on, or allocates a new buffer), so they stay valid while referenced.
 * Throws (a plain Error) for values MessagePack cannot carry, such as symbols: that is a bug in the caller.
 */
export function encodeMessage(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes exactly one message that fills `bytes`; throws `CodecError` on anything else. */
export function decodeMessage(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new CodecError(`malformed message: ${errorText(err)}`, { cause: err });
  }
  // 0xc1 is "never used" in MessagePack; msgpackr hands back a marker object instead of failing.
  if (value === C1) throw new CodecError('malformed message: reserved byte 0xc1');
  return value;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
