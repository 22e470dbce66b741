/**
 * The contract of a reliable broadcast protocol, shared by gossip broadcast and the layers built on it
 * (causal broadcast, the Maelstrom `broadcast` workload, the chat demo).
 *
 * A client asks its node to broadcast a payload; every node that stays up (and every node that recovers from a
 * partition) delivers it exactly once. The origin delivers its own message at once. Messages from one origin are
 * numbered 1, 2, 3, … (`seq`), in the order that origin accepted them; nothing is promised about the order in
 * which different origins' messages, or one origin's messages, are delivered elsewhere; that is what the causal
 * layer adds.
 */
import type { NodeId } from '../core/ids.js';
import type { PlainData } from '../crdt/data.js';

export interface BroadcastRequest<P = PlainData> {
  readonly kind: 'broadcast';
  readonly payload: P;
}

export interface Delivery<P = PlainData> {
  readonly kind: 'deliver';
  readonly origin: NodeId;
  /**
   * Who numbered the message: the origin's id, qualified by its incarnation when it runs as a process (a node
   * that restarts without its state starts numbering again, so (origin, seq) alone would repeat).
   * (replica, seq) is unique.
   */
  readonly replica: string;
  readonly seq: number;
  readonly payload: P;
}
