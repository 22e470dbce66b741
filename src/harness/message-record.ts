/**
 * A bounded record of the messages a harness run routes (`HarnessOptions.onMessage`), for the report's Lamport
 * diagram. Probe reads are counted but not kept: they are the harness's own instrument, not the run's traffic,
 * and at one read per node every 25 ms they would crowd out everything else.
 */
import { MAX_LAMPORT_MESSAGES } from '../pictures/lamport.js';
import type { RoutedMessage } from './types.js';

/** The most messages kept: as many as a Lamport diagram draws (past it the diagram is replaced by a sentence). */
export const MAX_RECORDED_MESSAGES = MAX_LAMPORT_MESSAGES;

export interface MessageRecord {
  readonly kept: readonly RoutedMessage[];
  /** Messages of the run other than probes, kept or not. */
  readonly total: number;
  readonly probes: number;
}

export class MessageRecorder {
  private readonly kept: RoutedMessage[] = [];
  private total = 0;
  private probes = 0;

  constructor(private readonly bound: number = MAX_RECORDED_MESSAGES) {}

  /** Pass as `onMessage`. */
  readonly record = (m: RoutedMessage): void => {
    if (m.kind === 'probe') {
      this.probes++;
      return;
    }
    this.total++;
    if (this.kept.length < this.bound) this.kept.push(m);
  };

  get result(): MessageRecord {
    return { kept: this.kept.slice(), total: this.total, probes: this.probes };
  }
}
