/**
 * A bounded record of a simulation's trace (`Simulation.onTrace`), for the picture of one seed
 * (`chatterbox sim --report`, src/sim/report.ts). Messages and outputs are kept as short text previews, not as
 * objects, so a long run holds at most `MAX_TRACE_EVENTS` small records however big its messages are.
 */
import type { NodeId } from '../core/ids.js';
import type { Simulation, SimDropReason, SimTraceEvent } from './simulation.js';

/** The most trace events kept; later ones are counted, not kept (the page says how many it left out). */
export const MAX_TRACE_EVENTS = 60_000;
/** A message or output preview is cut to this many characters (hover text, not a dump). */
export const MAX_PREVIEW_CHARS = 300;

/** A trace event with its message, output or request body as text. */
export type TraceRecord =
  | { readonly kind: 'send'; readonly atMs: number; readonly id: number; readonly from: NodeId; readonly to: NodeId; readonly text: string }
  | { readonly kind: 'receive' | 'duplicate'; readonly atMs: number; readonly id: number; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'drop'; readonly atMs: number; readonly id: number; readonly from: NodeId; readonly to: NodeId; readonly reason: SimDropReason }
  | { readonly kind: 'timer'; readonly atMs: number; readonly node: NodeId; readonly name: string }
  | { readonly kind: 'output' | 'request'; readonly atMs: number; readonly node: NodeId; readonly text: string }
  | { readonly kind: 'start' | 'restart' | 'init' | 'crash' | 'pause' | 'resume' | 'halt'; readonly atMs: number; readonly node: NodeId }
  | { readonly kind: 'failure'; readonly atMs: number; readonly node: NodeId | null; readonly text: string };

export interface RecordedTrace {
  readonly events: readonly TraceRecord[];
  /** Every event of the run, kept or not. */
  readonly total: number;
}

/** A value as one short line of JSON (typed arrays and bigints shown, not thrown on). */
export function preview(value: unknown, max: number = MAX_PREVIEW_CHARS): string {
  let text: string;
  try {
    text =
      JSON.stringify(value, (_k, v: unknown) => {
        if (typeof v === 'bigint') return `${v}n`;
        if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
          const items = Array.from(v as unknown as ArrayLike<number>);
          return items.length > 8 ? `${v.constructor.name}(${items.length}) [${items.slice(0, 8).join(', ')}, …]` : `${v.constructor.name} [${items.join(', ')}]`;
        }
        return v;
      }) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Records `sim`'s trace from now on, keeping the first `bound` events. */
export function recordTrace<S, Msg, Out, O, R, T extends string>(sim: Simulation<S, Msg, Out, O, R, T>, bound: number = MAX_TRACE_EVENTS): RecordedTrace {
  const events: TraceRecord[] = [];
  const trace = { events, total: 0 };
  // A failure is always kept, past the bound too: it is what the page is for.
  sim.onTrace((e: SimTraceEvent<Msg, Out>) => {
    trace.total++;
    if (events.length >= bound && e.kind !== 'failure') return;
    switch (e.kind) {
      case 'send':
        events.push({ kind: 'send', atMs: e.atMs, id: e.id, from: e.from, to: e.to, text: preview(e.msg) });
        break;
      case 'output':
        events.push({ kind: 'output', atMs: e.atMs, node: e.node, text: preview(e.value) });
        break;
      case 'request':
        events.push({ kind: 'request', atMs: e.atMs, node: e.node, text: preview(e.body) });
        break;
      default:
        events.push(e);
    }
  });
  return trace;
}
