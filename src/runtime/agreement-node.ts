/**
 * Runs one agreement-job node as an OS process: the chosen protocol over the TCP transport, on the wall clock.
 * (Contract first; the body lands with the runtime.)
 */
import type { NodeId } from '../core/ids.js';
import type { Logger } from './log.js';

export type AgreementProtocolName = 'stream' | 'lockstep';

export interface PeerAddress {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
}

export interface AgreementNodeConfig {
  readonly self: PeerAddress;
  /** Every node of the cluster, self included, in peers-file order. */
  readonly peers: readonly PeerAddress[];
  /** Identifies the cluster in handshakes; derived from the sorted node ids unless given. */
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
  readonly protocol: AgreementProtocolName;
  readonly sendForMs: number;
  readonly waitForMs: number;
  readonly tickMs: number;
  /** Already folded to 32 bits (core/prng.ts seed32). */
  readonly seed: number;
  /** Print the result as one JSON object instead of the `(count, sum)` line. */
  readonly json: boolean;
  /** Log a `progress` line (JSON, on stderr) every 250 ms, for `chatterbox cluster`. */
  readonly progress: boolean;
}

export interface NodeIo {
  readonly stdout: NodeJS.WritableStream;
  readonly log: Logger;
}

/** Resolves with the process exit code once the node has printed its line and stopped. */
export async function runAgreementNode(config: AgreementNodeConfig, io: NodeIo): Promise<number> {
  void config;
  void io;
  throw new Error('not implemented yet');
}
