/**
 * How an agreement node ends, the same for every protocol.
 *
 * - As soon as a node knows every sender's stream to its end, its result is final: it outputs it at once.
 * - It then keeps serving peers (they may still need its data or acks) and exchanges `done` reports carrying
 *   the result. Once every peer has reported done, it lingers one tick so its own report gets out, and halts.
 * - At the print deadline (a margin before send-for + wait-for) a node that is still missing streams outputs
 *   what it has, marked unconfirmed, naming the peers whose streams it could not complete.
 * - At send-for + wait-for it halts whatever happened, saying which peers never confirmed the same result.
 */
import { isCount, isRecord } from '../core/guards.js';
import type { NodeId } from '../core/ids.js';
import type { Effect } from '../protocol/types.js';
import type { Summary } from './checksum.js';
import { printMarginMs, type AgreementOptions, type AgreementOutput } from './types.js';

export const FINISH_TIMERS = { print: 'print', halt: 'halt', linger: 'linger' } as const;

export interface DoneReport {
  readonly count: number;
  /** Σ i·m_i in units of 10^-10, as a decimal string (the codec carries no bigint). */
  readonly weighted: string;
}

export function isDoneReport(x: unknown): x is DoneReport {
  return isRecord(x) && isCount(x.count) && typeof x.weighted === 'string' && /^[0-9]{1,64}$/.test(x.weighted);
}

/** A node's phase after the finisher's effects: `confirming` once it has printed, `halted` once it halts. */
export function phaseAfter<P extends string>(phase: P, effects: readonly Effect<unknown, AgreementOutput>[]): P | 'confirming' | 'halted' {
  let next: P | 'confirming' | 'halted' = phase;
  for (const e of effects) {
    if (e.kind === 'output') next = 'confirming';
    if (e.kind === 'halt') next = 'halted';
  }
  return next;
}

export class Finisher {
  private result: AgreementOutput | undefined;
  private readonly peerReports = new Map<NodeId, DoneReport>();
  private lingering = false;

  constructor(
    private readonly self: NodeId,
    private readonly peers: readonly NodeId[],
    private readonly startedAtMs: number,
    private readonly options: AgreementOptions,
  ) {}

  get sendUntilMs(): number {
    return this.startedAtMs + this.options.sendForMs;
  }

  get deadlineMs(): number {
    return this.startedAtMs + this.options.sendForMs + this.options.waitForMs;
  }

  get printed(): boolean {
    return this.result !== undefined;
  }

  /** This node's report for peers, once it has a complete result. */
  get report(): DoneReport | undefined {
    const r = this.result;
    return r !== undefined && r.complete ? { count: r.count, weighted: r.weighted.toString() } : undefined;
  }

  initialTimers<M>(): Effect<M, AgreementOutput>[] {
    return [
      { kind: 'timer', name: FINISH_TIMERS.print, at: this.deadlineMs - printMarginMs(this.options.waitForMs) },
      { kind: 'timer', name: FINISH_TIMERS.halt, at: this.deadlineMs },
    ];
  }

  /** Outputs the result once; later calls do nothing. */
  complete<M>(summary: Readonly<Summary>, unconfirmed: readonly NodeId[], nowMs: number): Effect<M, AgreementOutput>[] {
    if (this.result !== undefined) return [];
    const complete = unconfirmed.length === 0;
    this.result = { count: summary.count, weighted: summary.weighted, complete, unconfirmed };
    const effects: Effect<M, AgreementOutput>[] = [{ kind: 'output', value: this.result }, { kind: 'timer', name: FINISH_TIMERS.print, at: null }];
    if (!complete) {
      effects.push({ kind: 'log', level: 'warn', text: 'printing at the deadline without the whole stream of some peers', fields: { unconfirmed } });
    }
    for (const [peer, report] of this.peerReports) effects.push(...this.compare<M>(peer, report));
    return effects.concat(this.maybeLinger<M>(nowMs));
  }

  onPeerDone<M>(peer: NodeId, report: DoneReport, nowMs: number): Effect<M, AgreementOutput>[] {
    if (this.peerReports.has(peer)) return [];
    this.peerReports.set(peer, report);
    return [...this.compare<M>(peer, report), ...this.maybeLinger<M>(nowMs)];
  }

  /** Handles the finisher's own timers; `print` needs the protocol's best-effort result, so it is a callback. */
  onTimer<M>(name: string, nowMs: number, forcedResult: () => { summary: Readonly<Summary>; unconfirmed: readonly NodeId[] }): Effect<M, AgreementOutput>[] | undefined {
    switch (name) {
      case FINISH_TIMERS.print: {
        const { summary, unconfirmed } = forcedResult();
        return this.complete<M>(summary, unconfirmed, nowMs);
      }
      case FINISH_TIMERS.halt:
      case FINISH_TIMERS.linger:
        return this.halt<M>();
      default:
        return undefined;
    }
  }

  private compare<M>(peer: NodeId, report: DoneReport): Effect<M, AgreementOutput>[] {
    const mine = this.report;
    if (mine === undefined || (mine.count === report.count && mine.weighted === report.weighted)) return [];
    return [{ kind: 'log', level: 'error', text: 'a peer reported a different result', fields: { peer, mine, theirs: report } }];
  }

  private maybeLinger<M>(nowMs: number): Effect<M, AgreementOutput>[] {
    if (this.lingering || this.result === undefined) return [];
    if (!this.peers.every((p) => this.peerReports.has(p))) return [];
    this.lingering = true;
    // One more tick lets this node's own done report reach peers that are still waiting for it.
    return [{ kind: 'timer', name: FINISH_TIMERS.linger, at: nowMs + this.options.tickMs }];
  }

  private halt<M>(): Effect<M, AgreementOutput>[] {
    const effects: Effect<M, AgreementOutput>[] = [];
    const mine = this.report;
    const unconfirmed = this.peers.filter((p) => {
      const r = this.peerReports.get(p);
      return mine === undefined || r === undefined || r.count !== mine.count || r.weighted !== mine.weighted;
    });
    if (unconfirmed.length > 0) {
      effects.push({ kind: 'log', level: 'warn', text: 'could not confirm the result with some peers', fields: { peers: unconfirmed, self: this.self } });
    }
    effects.push({ kind: 'halt' });
    return effects;
  }
}
