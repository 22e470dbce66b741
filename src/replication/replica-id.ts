/**
 * Replica ids: the name under which a node's writes are numbered (dots, counter entries, message sequence).
 *
 * A node that restarts without its state must not reuse numbers its peers already hold, or its new writes would
 * be taken for old ones and dropped. So a process qualifies its node id with its incarnation (its start time);
 * the simulator's first incarnation starts at 0 and keeps the bare id, which keeps traces readable.
 */
import type { NodeId } from '../core/ids.js';

const SEPARATOR = '~';

export function replicaOf(self: NodeId, incarnation: number): string {
  return incarnation === 0 ? self : `${self}${SEPARATOR}${incarnation}`;
}

/** The node a replica id belongs to (inverse of `replicaOf`). */
export function nodeOfReplica(replica: string): NodeId {
  const at = replica.lastIndexOf(SEPARATOR);
  return (at < 0 ? replica : replica.slice(0, at)) as NodeId;
}
