/**
 * How an agreement node ends, the same for every protocol.
 *
 * - As soon as a node knows every sender's stream to its end, its result is final: it outputs it at once.
 * - It then keeps serving peers (they may still need its data or acks) and exchanges `done` reports carrying
 *   the result. Once every peer has reported done, it lingers one tick so its own report gets out, and halts.
 * - At the print deadline (a margin before send-for + wait-for) a node that is still missing streams outputs
 *   what it has, marked unconfirmed, naming the peers whose streams it could not complete. Live nodes pass each
 *   other what they hold of such streams beforehand, so they all print the same cut of them.
 * - At send-for + wait-for it halts whatever happened, saying which peers never confirmed the same result.
 *
 * Deadlines count from the node's own start; only the end of sending moves (earlier), to the earliest end any
 * peer announces, so that nodes started apart still close their streams together.
 */
import { isCount, isRecord } from '../core/guards.js';
import type { NodeId } from '../core/ids.js';
import type { Effect } from '../protocol/types.js';
import type { Summary } from './checksum.js';
import { printMarginMs, type AgreementOptions, type AgreementOutput } from './types.js';

export const FINISH_TIMERS = { print: 'print', halt: 'halt', linger: 'linger' } as const;
/** The finisher's timer names, part of every agreement protocol's `Timer` type. */
export type FinishTimer = (typeof FINISH_TIMERS)[keyof typeof FINISH_TIMERS];

export interface DoneReport {
  readonly count: number;
  /** Σ i·m_i in units of 10^-10, as a decimal string (the codec carries no bigint). */
  readonly weighted: string;
}

export function isDoneReport(x: unknown): x is DoneReport {
  return isRecord(x) && isCount(x.count) && typeof x.weighted === 'string' && /^[0-9]{1,64}$/.test(x.weighted);
}

/** A node's phase after the finisher's effects: `confirming` once it has printed, `halted` once it halts. */
export function phaseAfter<P extends string>(phase: P, effects: readonly Effect<unknown, AgreementOutput, string>[]): P | 'confirming' | 'halted' {
  let next: P | 'confirming' | 'halted' = phase;
  for (const e of effects) {
    if (e.kind === 'output') next = 'confirming';
    if (e.kind === 'halt') next = 'halted';
  }
  return next;
}

/**
 * What a node says when the deadline makes it print without some streams: how much of each it holds (the cut
 * its live peers hold too, if they could talk), and, when it has heard from no peer for a while, that it is cut off.
 */
export function deadlineNote<M>(heldOf: Readonly<Record<string, number>>, heardFrom: readonly NodeId[], peerCount: number): Effect<M, AgreementOutput, FinishTimer>[] {
  if (Object.keys(heldOf).length === 0) return [];
  if (heardFrom.length === 0 && peerCount > 0) {
    return [{ kind: 'log', level: 'warn', text: 'cut off from every peer: printing only what reached this node', fields: { heldOf } }];
  }
  return [{ kind: 'log', level: 'info', text: 'streams not held to their end: printing the cut held', fields: { heldOf, heardFrom } }];
}

export class Finisher {
  private result: AgreementOutput | undefined;
  private readonly peerReports = new Map<NodeId, DoneReport>();
  private lingering = false;
  private sendEndMs: number;

  constructor(
    private readonly self: NodeId,
    private readonly peers: readonly NodeId[],
    private readonly startedAtMs: number,
    private readonly options: AgreementOptions,
  ) {
    this.sendEndMs = startedAtMs + options.sendForMs;
  }

  /**
   * When this node stops sending: send-for after its start, or earlier when a peer's sending ends earlier.
   * Nodes started apart would otherwise close their streams apart, and the first to start would reach its print
   * deadline before the last one's stream had ended. So every node stops at the earliest end it knows of, and all
   * streams close together, however far apart the nodes started (see `adoptSendEnd`).
   */
  get sendUntilMs(): number {
    return this.sendEndMs;
  }

  /** What a node tells its peers: how long until its sending ends, a duration because hosts' clocks differ. */
  remainingSendMs(nowMs: number): number {
    return Math.max(0, this.sendEndMs - nowMs);
  }

  /**
   * A peer's sending ends `remainingMs` after now (as it said, so a little later in truth: the message took time
   * to arrive). Takes it when it is earlier than this node's own end; true when the end moved.
   */
  adoptSendEnd(remainingMs: number, nowMs: number): boolean {
    const end = nowMs + remainingMs;
    if (end >= this.sendEndMs) return false;
    this.sendEndMs = end;
    return true;
  }

  get deadlineMs(): number {
    return this.startedAtMs + this.options.sendForMs + this.options.waitForMs;
  }

  get printed(): boolean {
    return this.result !== undefined;
  }

  /**
   * This node's report for peers, once it has printed: complete results, and also those printed at the deadline,
   * since live nodes settle on one cut of a dead peer's stream and so print the same line; the reports confirm it.
   */
  get report(): DoneReport | undefined {
    const r = this.result;
    return r === undefined ? undefined : { count: r.count, weighted: r.weighted.toString() };
  }

  initialTimers<M>(): Effect<M, AgreementOutput, FinishTimer>[] {
    return [
      { kind: 'timer', name: FINISH_TIMERS.print, at: this.deadlineMs - printMarginMs(this.options.waitForMs) },
      { kind: 'timer', name: FINISH_TIMERS.halt, at: this.deadlineMs },
    ];
  }

  /** Outputs the result once; later calls do nothing. */
  complete<M>(summary: Readonly<Summary>, unconfirmed: readonly NodeId[], nowMs: number): Effect<M, AgreementOutput, FinishTimer>[] {
    if (this.result !== undefined) return [];
    const complete = unconfirmed.length === 0;
    this.result = { count: summary.count, weighted: summary.weighted, complete, unconfirmed };
    const effects: Effect<M, AgreementOutput, FinishTimer>[] = [{ kind: 'output', value: this.result }, { kind: 'timer', name: FINISH_TIMERS.print, at: null }];
    if (!complete) {
      effects.push({ kind: 'log', level: 'warn', text: 'printing at the deadline without the whole stream of some peers', fields: { unconfirmed } });
    }
    for (const [peer, report] of this.peerReports) effects.push(...this.compare<M>(peer, report));
    return effects.concat(this.maybeLinger<M>(nowMs));
  }

  onPeerDone<M>(peer: NodeId, report: DoneReport, nowMs: number): Effect<M, AgreementOutput, FinishTimer>[] {
    if (this.peerReports.has(peer)) return [];
    this.peerReports.set(peer, report);
    return [...this.compare<M>(peer, report), ...this.maybeLinger<M>(nowMs)];
  }

  /** Handles the finisher's own timers; `print` needs the protocol's best-effort result, so it is a callback. */
  onTimer<M>(name: FinishTimer, nowMs: number, forcedResult: () => { summary: Readonly<Summary>; unconfirmed: readonly NodeId[] }): Effect<M, AgreementOutput, FinishTimer>[] {
    switch (name) {
      case FINISH_TIMERS.print: {
        const { summary, unconfirmed } = forcedResult();
        return this.complete<M>(summary, unconfirmed, nowMs);
      }
      case FINISH_TIMERS.halt:
      case FINISH_TIMERS.linger:
        return this.halt<M>();
    }
  }

  private compare<M>(peer: NodeId, report: DoneReport): Effect<M, AgreementOutput, FinishTimer>[] {
    const mine = this.report;
    if (mine === undefined || (mine.count === report.count && mine.weighted === report.weighted)) return [];
    return [{ kind: 'log', level: 'error', text: 'a peer reported a different result', fields: { peer, mine, theirs: report } }];
  }

  private maybeLinger<M>(nowMs: number): Effect<M, AgreementOutput, FinishTimer>[] {
    if (this.lingering || this.result === undefined) return [];
    if (!this.peers.every((p) => this.peerReports.has(p))) return [];
    this.lingering = true;
    // One more tick lets this node's own done report reach peers that are still waiting for it.
    return [{ kind: 'timer', name: FINISH_TIMERS.linger, at: nowMs + this.options.tickMs }];
  }

  /** Peers whose done report names this node's result, in peer order: who has confirmed it (metrics, the dashboard). */
  get confirmedBy(): NodeId[] {
    const mine = this.report;
    return this.peers.filter((p) => {
      const r = this.peerReports.get(p);
      return mine !== undefined && r !== undefined && r.count === mine.count && r.weighted === mine.weighted;
    });
  }

  private halt<M>(): Effect<M, AgreementOutput, FinishTimer>[] {
    const effects: Effect<M, AgreementOutput, FinishTimer>[] = [];
    const confirmed = new Set(this.confirmedBy);
    const unconfirmed = this.peers.filter((p) => !confirmed.has(p));
    if (unconfirmed.length > 0) {
      effects.push({ kind: 'log', level: 'warn', text: 'could not confirm the result with some peers', fields: { peers: unconfirmed, self: this.self } });
    }
    effects.push({ kind: 'halt' });
    return effects;
  }
}
