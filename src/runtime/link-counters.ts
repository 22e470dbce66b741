/**
 * Per-link message and byte counts of one node, from the TCP transport's frame hook (`onFrame`): what
 * `chatterbox cluster --dashboard` draws its link rates from, carried in the agreement node's progress lines.
 * Only listed peers are counted, so the map is bounded by the peers file (a frame reaches the hook before any guard).
 */
import type { NodeId } from '../core/ids.js';

export interface LinkCounts {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export class LinkCounters {
  private readonly links = new Map<string, LinkCounts>();

  constructor(peers: readonly NodeId[]) {
    for (const peer of peers) this.links.set(peer, { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 });
  }

  /** The transport's `onFrame`: one message in or out, with its size on the wire. */
  readonly observe = (direction: 'in' | 'out', peer: NodeId, _msg: unknown, bytes: number): void => {
    const link = this.links.get(peer);
    if (link === undefined) return;
    if (direction === 'in') {
      link.framesIn++;
      link.bytesIn += bytes;
    } else {
      link.framesOut++;
      link.bytesOut += bytes;
    }
  };

  /** Links that carried something so far, by peer. */
  snapshot(): Record<string, LinkCounts> {
    const out: Record<string, LinkCounts> = {};
    for (const [peer, link] of this.links) if (link.framesIn + link.framesOut > 0) out[peer] = { ...link };
    return out;
  }
}
