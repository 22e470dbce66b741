/**
 * How a replicated workload plugs into the Maelstrom driver (`chatterbox maelstrom`).
 *
 * A workload is an ordinary sans-IO `Protocol` whose requests are Maelstrom client requests and whose outputs
 * are replies. The driver owns everything Maelstrom-specific: JSON lines, `init`, `msg_id`/`in_reply_to`,
 * carrying the protocol's own messages between nodes, and answering requests no workload claims.
 */
import type { Protocol } from '../protocol/types.js';

/**
 * The names of the workloads in workloads.ts, in its order, so that help and logs can name them without loading
 * the protocols (test/process/maelstrom-node.test.ts checks that they match).
 */
export const HOSTED_WORKLOAD_NAMES: readonly string[] = ['broadcast', 'g-set', 'pn-counter', 'txn-rw-register', 'lin-kv', 'kafka'];

/** Maelstrom's error codes (doc/protocol.md, "Errors"). */
export const MaelstromError = {
  timeout: 0,
  nodeNotFound: 1,
  notSupported: 10,
  temporarilyUnavailable: 11,
  malformedRequest: 12,
  crash: 13,
  abort: 14,
  keyDoesNotExist: 20,
  keyAlreadyExists: 21,
  preconditionFailed: 22,
  txnConflict: 30,
} as const;

/** A Maelstrom message body: `type` plus fields. */
export type Body = Readonly<Record<string, unknown>> & { readonly type: string };

/** A client request handed to a workload protocol; `token` is the driver's handle for the reply. */
export interface ClientRequest {
  readonly token: number;
  readonly body: Body;
}

/**
 * A workload's answer to the request with `token`: `body` is the reply without `msg_id`/`in_reply_to`
 * (the driver adds them), e.g. `{ type: 'broadcast_ok' }` or `{ type: 'error', code: 12, text: '…' }`.
 */
export interface ClientReply {
  readonly token: number;
  readonly body: Body;
}

/** `Timer` is the hosted protocol's timer names; a list of workloads of several protocols is `Workload[]`. */
export interface Workload<Timer extends string = string> {
  /** As Maelstrom names it: 'broadcast', 'g-set', 'g-counter', 'pn-counter', 'lin-kv'. */
  readonly name: string;
  /**
   * True when a client request of this body belongs to this workload. The first claimed request (or the first
   * peer message of this workload) fixes the node's workload; a request that no workload claims gets
   * `not-supported`, and a read that several could claim before any is fixed gets `temporarily-unavailable`.
   */
  claims(body: Body): boolean;
  /** Its state, messages and options are its own; its messages must pass the transport codec. */
  readonly protocol: Protocol<unknown, unknown, ClientReply, unknown, ClientRequest, Timer>;
  /** The protocol's options for this node, from the driver's flags. */
  options(flags: Readonly<Record<string, unknown>>): unknown;
  /**
   * True when what the node acknowledged is in its durable store before the reply, so a restart on the same store
   * keeps it (Raft's log; a delta-sync service with `durable`). The simulated harness then judges answers of a
   * node that crashes later as definite.
   */
  readonly durable?: boolean;
}
