/**
 * memberlist's formulas (util.go, suspicion.go, awareness.go), as pure functions so tests can pin them.
 *
 * - retransmitLimit: RetransmitMult·ceil(log10(n+1)): gossip reaches everyone in O(log n) rounds, so a broadcast
 *   needs only that many sends per node holding it.
 * - suspicionTimeout: SuspicionMult·max(1, log10(max(1, n)))·ProbeInterval: time for a suspicion to spread and
 *   for the suspect to refute grows with log n.
 * - remainingSuspicionTime (Lifeguard): a suspicion starts at max = SuspicionMaxTimeoutMult·min and shrinks with
 *   each independent confirmation C toward min: timeout = max(min, max − (max − min)·log(C+1)/log(K+1)).
 * - pushPullScale: past 32 members the push/pull interval grows by ceil(log2(n) − log2(32)) + 1, so full syncs
 *   do not saturate the network as the cluster grows.
 * - awareness: a score in [0, AwarenessMaxMultiplier − 1]; timeouts are scaled by (score + 1).
 */

export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

export function suspicionTimeoutMs(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  // memberlist keeps three decimals of the scale (time.Duration is an integer).
  return (suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000;
}

/**
 * Time left of a suspicion begun `elapsedMs` ago with `confirmations` of `k` wanted; may be negative (fire now).
 * memberlist floors the timeout to whole milliseconds.
 */
export function remainingSuspicionTimeMs(confirmations: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = maxMs - frac * (maxMs - minMs);
  const timeout = Math.max(minMs, Math.floor(raw));
  return timeout - elapsedMs;
}

/** The whole suspicion timeout for `confirmations` (the curve the README tabulates). k < 1 means none are expected: min at once. */
export function suspicionTimeoutWithConfirmationsMs(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  return remainingSuspicionTimeMs(Math.min(confirmations, k), k, 0, minMs, maxMs);
}

export const PUSH_PULL_SCALE_THRESHOLD = 32;

export function pushPullScaleMs(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * intervalMs;
}

/** awareness.ApplyDelta: the score moves by delta and stays in [0, max − 1]. */
export function applyAwarenessDelta(score: number, delta: number, awarenessMaxMultiplier: number): number {
  return Math.min(Math.max(0, score + delta), Math.max(0, awarenessMaxMultiplier - 1));
}

/** awareness.ScaleTimeout. */
export function scaleByAwareness(ms: number, score: number): number {
  return ms * (score + 1);
}
