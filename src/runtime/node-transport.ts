/**
 * The TCP transport of a node process: where it stands in its cluster and a fresh incarnation for this run. One
 * place for what the agreement, chat and ranges nodes would otherwise each spell out. Messages go to the node's
 * `WallClockHost` unchecked: its kernel applies the protocol's guard (protocol/types.ts, rule 5).
 */
import { randomBytes } from 'node:crypto';
import { TcpTransport, type PeerAddress } from '../transport/tcp-transport.js';
import type { TransportHandlers } from '../transport/transport.js';
import type { Logger } from '../platform/log.js';
import type { NodeId } from '../core/ids.js';

export interface NodePlace {
  readonly self: PeerAddress;
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
}

export interface NodeTransportOptions extends TransportHandlers {
  /** Refuse a peer that comes back as a new incarnation (protocols that cannot take a restarted peer back). */
  readonly rejectRestartedPeers: boolean;
  readonly log: Logger;
  readonly onPeerUp?: (id: NodeId, incarnation: string) => void;
  /** Peers come and go (membership): see TcpTransport's dynamic mode. */
  readonly dynamic?: boolean;
  /** Dynamic mode: the "host:port" this node is dialed at. */
  readonly advertise?: string;
}

export function listenAsNode(place: NodePlace, options: NodeTransportOptions): Promise<TcpTransport> {
  return TcpTransport.listen({
    self: place.self,
    peers: place.peers,
    clusterId: place.clusterId,
    incarnation: randomBytes(8).toString('hex'),
    ...(place.clusterKey === undefined ? {} : { clusterKey: place.clusterKey }),
    rejectRestartedPeers: options.rejectRestartedPeers,
    log: options.log,
    onMessage: options.onMessage,
    ...(options.onPeerUp === undefined ? {} : { onPeerUp: options.onPeerUp }),
    ...(options.dynamic === true ? { dynamic: true, ...(options.advertise === undefined ? {} : { advertise: options.advertise }) } : {}),
  });
}
