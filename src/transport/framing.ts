/**
 * Length-prefixed framing for byte streams: every frame is a 4-byte big-endian payload length, then the payload.
 *
 * `FrameDecoder` is incremental and copies each byte at most once: arriving chunks are kept in a list, and a
 * frame is cut out only once all of its bytes are there (a subarray when it lies inside one chunk, one copy
 * when it spans several). Feeding a frame one byte at a time therefore costs linear, not quadratic, time.
 * A length above the cap is rejected as soon as its 4 header bytes arrive, before any payload is buffered.
 */
import { assert } from '../core/assert.js';

export const FRAME_HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** The largest length a 4-byte header can express. */
export const MAX_FRAME_BYTES_LIMIT = 0xffff_ffff;

/** Bad framing from a peer (today: a length above the cap). The stream cannot be resynchronised after it. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** The 4-byte header for a payload of this many bytes. */
export function frameHeader(payloadBytes: number): Buffer {
  // A constant message: this runs for every frame sent.
  assert(Number.isInteger(payloadBytes) && payloadBytes >= 0 && payloadBytes <= MAX_FRAME_BYTES_LIMIT, 'frame length outside 0..MAX_FRAME_BYTES_LIMIT');
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(payloadBytes, 0);
  return header;
}

/** Header and payload in one buffer (one copy of the payload). */
export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Chunks consumed from the front of the list are dropped in batches, once they are at least this many and at
 * least half of the list (amortised O(1) per chunk, unlike shift()).
 */
const COMPACT_AFTER_CHUNKS = 64;

export class FrameDecoder {
  /** Frames announcing more payload bytes than this are refused. May be changed between frames. */
  maxFrameBytes: number;
  private chunks: Buffer[] = [];
  /** Index of the first chunk with unread bytes, and the read position inside it. */
  private head = 0;
  private offset = 0;
  private buffered = 0;
  /** Payload length of the frame being read, or -1 while its header is still incomplete. */
  private expected = -1;
  private failure: FrameError | undefined;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    assert(Number.isInteger(maxFrameBytes) && maxFrameBytes >= 0 && maxFrameBytes <= MAX_FRAME_BYTES_LIMIT, `maxFrameBytes ${maxFrameBytes}`);
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received but not yet returned as frames (including a partial header). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk and returns every frame it completes, in order. Throws `FrameError` on an oversized length. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.write(chunk);
    const frames: Uint8Array[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    return frames;
  }

  /** Adds a chunk without cutting frames; pair with `next()` to change `maxFrameBytes` between frames. */
  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
  }

  /** The next complete frame's payload, or undefined until more bytes arrive. Once it has thrown, it always throws. */
  next(): Uint8Array | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (this.expected < 0) {
      if (this.buffered < FRAME_HEADER_BYTES) return undefined;
      const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
      if (length > this.maxFrameBytes) {
        this.failure = new FrameError(`frame of ${length} bytes exceeds the cap of ${this.maxFrameBytes} bytes`);
        throw this.failure;
      }
      this.expected = length;
    }
    if (this.buffered < this.expected) return undefined;
    const payload = this.take(this.expected);
    this.expected = -1;
    return payload;
  }

  /** Removes `count` buffered bytes from the front: a view when they lie in one chunk, else one copy. */
  private take(count: number): Buffer {
    assert(count <= this.buffered, 'take beyond buffered bytes');
    this.buffered -= count;
    const first = this.chunks[this.head];
    if (count === 0 || first === undefined) return Buffer.alloc(0);
    if (first.length - this.offset >= count) {
      const view = first.subarray(this.offset, this.offset + count);
      this.advance(count);
      return view;
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[this.head];
      assert(chunk !== undefined, 'frame decoder ran out of chunks');
      const n = Math.min(count - filled, chunk.length - this.offset);
      chunk.copy(out, filled, this.offset, this.offset + n);
      filled += n;
      this.advance(n);
    }
    return out;
  }

  /** Moves the read position forward within the current chunk, dropping it once it is used up. */
  private advance(count: number): void {
    this.offset += count;
    const chunk = this.chunks[this.head];
    if (chunk === undefined || this.offset < chunk.length) return;
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER_CHUNKS && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
