/**
 * The Maelstrom driver's link to Maelstrom's network: JSON lines on the process's stdin and stdout
 * (doc/protocol.md), and over them the `Transport` (transport/transport.ts) a hosted workload's protocol talks
 * to its peers through.
 *
 * One stream carries clients' requests and peers' messages alike, so the node (node.ts) reads every line
 * (`readLines`) and decides what it is; a peer message of the running workload it hands to that workload's
 * `MaelstromPeerLink`, which decodes it and delivers it. Sends go the other way: wrapped as
 * `{type: "chatterbox", workload, m: base64(msgpack)}` and written as one line addressed to the peer.
 * What Maelstrom's network does to them (delay, reordering, loss, partitions) is stated in transport.ts.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { NodeId } from '../core/ids.js';
import type * as Codec from '../transport/codec.js';
import type { Transport, TransportHandlers } from '../transport/transport.js';
import { PEER_MESSAGE_TYPE } from './wire.js';

/** An outgoing Maelstrom message. */
export interface OutMessage {
  readonly src: string;
  readonly dest: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/** Maelstrom's framing out: one message, one line of JSON. */
export function writeLine(output: Writable, message: OutMessage): void {
  output.write(`${JSON.stringify(message)}\n`);
}

/** Maelstrom's framing in: every line of `input`, one at a time, in order; resolves when the input ends. */
export function readLines(input: Readable, onLine: (line: string) => void): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  lines.on('line', onLine);
  return once(lines, 'close').then(() => undefined);
}

export interface MaelstromPeerLinkOptions extends TransportHandlers {
  readonly self: NodeId;
  /** The workload whose messages this link carries; a node hosts one. */
  readonly workload: string;
  readonly codec: typeof Codec;
  /** Puts one message on stdout. */
  readonly write: (message: OutMessage) => void;
}

/** One workload's peer messages over Maelstrom's network: the Maelstrom driver's `Transport`. */
export class MaelstromPeerLink implements Transport {
  private open = true;

  constructor(private readonly options: MaelstromPeerLinkOptions) {}

  get self(): NodeId {
    return this.options.self;
  }

  send(to: NodeId, msg: unknown): boolean {
    if (!this.open || to === this.options.self) return false;
    const { codec, workload, write } = this.options;
    const m = Buffer.from(codec.encodeMessage(msg)).toString('base64');
    write({ src: this.options.self, dest: to, body: { type: PEER_MESSAGE_TYPE, workload, m } });
    return true;
  }

  /**
   * A peer message of this link's workload from `from`, whose envelope the node has checked: decoded and handed
   * to `onMessage`. Bytes that do not decode throw the codec's `CodecError` (the node drops and counts them).
   */
  deliver(from: NodeId, m: string): void {
    if (!this.open) return;
    const msg = this.options.codec.decodeMessage(Buffer.from(m, 'base64'));
    this.options.onMessage(from, msg);
  }

  close(): Promise<void> {
    this.open = false;
    return Promise.resolve();
  }
}
