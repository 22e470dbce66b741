/** What both agreement protocols share: their common options and the result they output. */
import type { NodeId } from '../core/ids.js';

/** Largest cluster the agreement protocols take: it bounds the per-node vectors in their messages. */
export const MAX_AGREEMENT_NODES = 1024;

/** Longest remaining send time a node may announce: a day, the CLI's cap on --send-for. */
export const MAX_SEND_END_MS = 86_400_000;

export interface AgreementOptions {
  /** 32-bit seed; values are a function of (seed, node id, sequence number). */
  readonly seed: number;
  readonly sendForMs: number;
  readonly waitForMs: number;
  /** Paces heartbeats and retransmission. */
  readonly tickMs: number;
}

export interface AgreementOutput {
  readonly count: number;
  /** Σ i·m_i in units of 10^-10. */
  readonly weighted: bigint;
  /** Every sender's stream was known to its end when the result was computed. */
  readonly complete: boolean;
  /** Peers whose streams were not known to their end: the result could not be confirmed with them. */
  readonly unconfirmed: readonly NodeId[];
}

/**
 * When a node must print at the latest: a margin before the end of the grace period, so the line is out before
 * `send-for + wait-for` even with a slow process start. A tenth of the grace period, within [50 ms, 1 s].
 */
export function printMarginMs(waitForMs: number): number {
  return Math.min(1000, Math.max(50, waitForMs / 10));
}
