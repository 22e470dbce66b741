/**
 * Retransmission. Intervals go once, optimistically (intervals.ts); what an eager neighbour has not acknowledged
 * within its retransmission timeout (RTO) is sent again from its last acknowledgement. The RTO doubles, up to
 * `maxRetransmitMs`, while the neighbour stays silent, so a dead or cut-off neighbour costs little, and drops back
 * to `retransmitMs` at its first sign of life. A neighbour heard from again while backed off (a partition healed)
 * is resent at once rather than at the end of its long timeout.
 *
 * One timer serves every link: it is armed for the earliest `progressAt + rtoMs` among the links with something
 * outstanding (or still being greeted, see links.ts), and re-armed when it fires.
 */
import { awaitsGreeting, greet } from './links.js';
import { TIMER, type Link, type SyncState } from './state.js';
import type { SyncEffects } from './types.js';

/** Arms the retransmission timer for the earliest deadline among links, unless it is armed as early already. */
export function armRetransmit<T>(state: SyncState<T>, now: number, effects: SyncEffects<unknown>): void {
  let earliest = Infinity;
  for (const link of state.links.values()) {
    if (link.eager && (link.acked < link.sentUpTo || awaitsGreeting(state, link))) earliest = Math.min(earliest, link.progressAt + link.rtoMs);
  }
  if (earliest === Infinity || (state.retransmitAt !== null && state.retransmitAt <= earliest)) return;
  state.retransmitAt = Math.max(earliest, now);
  effects.push({ kind: 'timer', name: TIMER.retransmit, at: state.retransmitAt });
}

/**
 * The retransmission timer fired: greets again the links still awaiting a greeting and rewinds the links whose
 * timeout passed to their last acknowledgement. True when some link was rewound (the caller flushes, which
 * re-arms the timer); otherwise the timer is re-armed here.
 */
export function retransmitStalled<T>(state: SyncState<T>, now: number, effects: SyncEffects<unknown>): boolean {
  state.retransmitAt = null;
  let rewound = false;
  for (const link of state.links.values()) {
    if (link.eager && link.acked >= link.sentUpTo && awaitsGreeting(state, link) && now >= link.progressAt + link.rtoMs) {
      greet(state, link, effects);
      link.progressAt = now;
      backOff(state, link);
      continue;
    }
    if (!link.eager || link.acked >= link.sentUpTo || now < link.progressAt + link.rtoMs) continue;
    rewind(state, link, now);
    backOff(state, link);
    rewound = true;
  }
  if (!rewound) armRetransmit(state, now, effects);
  return rewound;
}

/**
 * After a message from `link`'s peer was handled: if we had backed off from it with something outstanding, it is
 * back (a partition healed), so rewind now. True when rewound (the caller schedules a flush).
 */
export function resumeIfBackedOff<T>(state: SyncState<T>, link: Link, now: number): boolean {
  if (!(link.eager && link.acked < link.sentUpTo && link.rtoMs > state.options.retransmitMs)) return false;
  rewind(state, link, now);
  link.rtoMs = state.options.retransmitMs;
  return true;
}

/** The next flush resends to `link` from its last acknowledgement. */
function rewind<T>(state: SyncState<T>, link: Link, now: number): void {
  link.sentUpTo = link.acked;
  link.retransmitting = true;
  link.progressAt = now;
  state.stats.retransmissions++;
}

function backOff<T>(state: SyncState<T>, link: Link): void {
  link.rtoMs = Math.min(link.rtoMs * 2, state.options.maxRetransmitMs);
}
