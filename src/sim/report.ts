/**
 * The picture of one simulated seed (`chatterbox sim --report FILE`): every node's events on a time axis, the
 * messages between them as a Lamport diagram, the fault schedule shaded, and for a failing seed the assertion
 * that failed, where and when, highlighted. Pure: builds the page from a recorded trace (src/sim/trace.ts).
 */
import type { NodeId } from '../core/ids.js';
import {
  BASE_CSS,
  OKABE_ITO,
  escapeHtml,
  formatMs,
  htmlDocument,
  legendSwatch,
  markSvg,
  outcomeAndFaultLegend,
  renderLamport,
  renderTimeline,
  sharedSvgDefs,
  type LamportMessage,
  type MarkShape,
  type TimelineBand,
  type TimelineMark,
  PAGE_DATA_SCRIPT,
  UPLOT_BOOT_SCRIPT,
  chartsCss,
  type ChartAssets,
} from '../pictures/index.js';
import { describePartition, type Fault } from './faults.js';
import type { SimLogEntry } from './simulation.js';
import type { RecordedTrace, TraceRecord } from './trace.js';

/**
 * The Lamport diagram of a seed draws at most this many messages: a window of the run, ending at the failure
 * when there is one (the messages that led to it), else from the start. Beyond a few hundred arrows a diagram
 * cannot be read; the timeline above it still shows every node's sends and receipts.
 */
export const SIM_LAMPORT_WINDOW = 150;
/** Log lines shown (the most recent). */
export const MAX_REPORT_LOG_LINES = 200;

export interface SimFailure {
  /** The assertion or check that failed, as the error says it. */
  readonly text: string;
  readonly node: NodeId | null;
  readonly atMs: number | null;
}

export interface SimReportInput {
  /** "agreement job, protocol stream", "broadcast workload, preset messages". */
  readonly title: string;
  readonly seed: number;
  readonly nodes: readonly NodeId[];
  readonly faults: readonly Fault[];
  readonly endedAtMs: number;
  readonly trace: RecordedTrace;
  /** The run's settings as label and value. */
  readonly settings: readonly (readonly [string, string])[];
  /** The verdict: passed, the problems the checks found, or the assertion that stopped the run. */
  readonly problems: readonly string[];
  readonly failure?: SimFailure;
  /** What the command printed (its description of the run), shown as is. */
  readonly printed?: readonly string[];
  /** The command that replays this seed. */
  readonly replay: string;
  readonly logs?: readonly SimLogEntry[];
  /**
   * Sections drawn by a caller above the simulator (the harness's verdict, charts and operations timeline for a
   * Maelstrom workload), placed after the verdict; `assets` is the chart library they need.
   */
  readonly extra?: { readonly html: string; readonly assets: ChartAssets; readonly css?: string };
}

interface MarkStyle {
  readonly shape: MarkShape;
  readonly colour: string;
  readonly label: string;
}

/** How each kind of event is drawn: hue and shape both differ between kinds that sit side by side. */
const EVENT_STYLES: Readonly<Record<Exclude<TraceRecord['kind'], 'failure'>, MarkStyle>> = {
  send: { shape: 'bar', colour: OKABE_ITO.blue, label: 'send' },
  receive: { shape: 'bar', colour: OKABE_ITO.skyBlue, label: 'receive' },
  drop: { shape: 'cross', colour: OKABE_ITO.vermillion, label: 'drop' },
  duplicate: { shape: 'diamond', colour: OKABE_ITO.orange, label: 'duplicate' },
  timer: { shape: 'square', colour: '#8a8a8a', label: 'timer' },
  output: { shape: 'circle', colour: OKABE_ITO.bluishGreen, label: 'output' },
  request: { shape: 'triangle', colour: OKABE_ITO.black, label: 'request' },
  start: { shape: 'square', colour: OKABE_ITO.blue, label: 'start' },
  restart: { shape: 'square', colour: OKABE_ITO.blue, label: 'restart' },
  init: { shape: 'diamond', colour: OKABE_ITO.blue, label: 'init' },
  crash: { shape: 'cross', colour: OKABE_ITO.reddishPurple, label: 'crash' },
  pause: { shape: 'triangle', colour: '#b5a800', label: 'pause' },
  resume: { shape: 'triangle', colour: '#b5a800', label: 'resume' },
  halt: { shape: 'square', colour: OKABE_ITO.black, label: 'halt' },
};

/** Drawn first when the timeline's bound cuts: the rare events that explain a run, then the many messages. */
const PRIORITY: Readonly<Record<TraceRecord['kind'], number>> = {
  failure: 0, crash: 1, restart: 1, start: 1, init: 1, pause: 1, resume: 1, halt: 1, output: 2, drop: 3, duplicate: 3, request: 4, timer: 5, send: 6, receive: 6,
};

/** Faults as shaded bands: partitions over every node (labelled with the groups), crashes and pauses over their node. */
export function faultBands(faults: readonly Fault[], endMs: number): TimelineBand[] {
  // A fault scheduled after the run stopped (a failure ended it early) did not happen.
  return faults.filter((f) => f.atMs <= endMs).map((f): TimelineBand => {
    switch (f.kind) {
      case 'partition':
        return { kind: 'partition', start: f.atMs, end: f.healAtMs, label: `partition ${describePartition(f)}` };
      case 'crash':
        return { kind: 'crash', start: f.atMs, end: f.restartAtMs ?? endMs, rows: [f.node], label: `${f.node} crashed${f.restartAtMs === undefined ? '' : `, restarts at ${formatMs(f.restartAtMs)}`}` };
      case 'pause':
        return { kind: 'pause', start: f.atMs, end: f.resumeAtMs, rows: [f.node], label: `${f.node} paused` };
    }
  });
}

function eventTitle(e: TraceRecord): string {
  const at = formatMs(e.atMs);
  switch (e.kind) {
    case 'send':
      return `${at} send #${e.id} ${e.from} → ${e.to}: ${e.text}`;
    case 'receive':
      return `${at} receive #${e.id} ${e.from} → ${e.to}`;
    case 'duplicate':
      return `${at} duplicate of #${e.id} ${e.from} → ${e.to}`;
    case 'drop':
      return `${at} drop #${e.id} ${e.from} → ${e.to} (${e.reason})`;
    case 'timer':
      return `${at} ${e.node} timer ${e.name}`;
    case 'output':
      return `${at} ${e.node} output ${e.text}`;
    case 'request':
      return `${at} ${e.node} request ${e.text}`;
    case 'failure':
      return `${at} FAILED${e.node === null ? '' : ` at ${e.node}`}: ${e.text}`;
    default:
      return `${at} ${e.node} ${e.kind}`;
  }
}

/** The row an event belongs on: a drop at send time on the sender's, one at delivery on the receiver's. */
function rowOf(e: TraceRecord, sentAt: ReadonlyMap<number, number>): NodeId | null {
  switch (e.kind) {
    case 'send':
    case 'duplicate':
      return e.from;
    case 'receive':
      return e.to;
    case 'drop':
      return sentAt.get(e.id) === e.atMs && (e.reason === 'loss' || e.reason === 'partition') ? e.from : e.to;
    case 'failure':
      return e.node;
    default:
      return e.node;
  }
}

function timelineMarks(events: readonly TraceRecord[], sentAt: ReadonlyMap<number, number>, nodes: readonly NodeId[]): TimelineMark[] {
  const known = new Set(nodes);
  const ordered = events.map((e, i) => ({ e, i })).sort((a, b) => PRIORITY[a.e.kind] - PRIORITY[b.e.kind] || a.i - b.i);
  const marks: TimelineMark[] = [];
  for (const { e } of ordered) {
    if (e.kind === 'failure') {
      // A failure no node owns (a bound of the simulator) goes on the first row.
      const row = e.node !== null && known.has(e.node) ? e.node : nodes[0]!;
      marks.push({ row, at: e.atMs, shape: 'cross', colour: OKABE_ITO.vermillion, title: eventTitle(e), anchor: 'failure-mark', highlight: true });
      continue;
    }
    const row = rowOf(e, sentAt);
    if (row === null || !known.has(row)) continue;
    const style = EVENT_STYLES[e.kind];
    marks.push({ row, at: e.atMs, shape: style.shape, colour: style.colour, title: eventTitle(e) });
  }
  return marks;
}

/** Messages with their fates, as the Lamport diagram draws them. */
function messagesOf(events: readonly TraceRecord[], failureAt: number | null): { drawn: LamportMessage[]; total: number; caption: string } {
  const sends = new Map<number, { from: NodeId; to: NodeId; atMs: number; text: string }>();
  const fates = new Map<number, { received: number[]; dropped: string[] }>();
  for (const e of events) {
    if (e.kind === 'send') sends.set(e.id, { from: e.from, to: e.to, atMs: e.atMs, text: e.text });
    else if (e.kind === 'receive' || e.kind === 'drop') {
      const fate = fates.get(e.id) ?? { received: [], dropped: [] };
      if (e.kind === 'drop') fate.dropped.push(`${e.reason} at ${formatMs(e.atMs)}`);
      else fate.received.push(e.atMs);
      fates.set(e.id, fate);
    }
  }
  const all = [...sends.entries()];
  const total = all.length;
  let window = all;
  let caption = '';
  if (total > SIM_LAMPORT_WINDOW) {
    const before = failureAt === null ? all : all.filter(([, s]) => s.atMs <= failureAt);
    window = failureAt === null ? all.slice(0, SIM_LAMPORT_WINDOW) : before.slice(-SIM_LAMPORT_WINDOW);
    const first = window[0]?.[1].atMs ?? 0;
    const last = window[window.length - 1]?.[1].atMs ?? 0;
    caption = `${total.toLocaleString('en-US')} messages in all, too many to draw one by one: showing the ${window.length} sent from ${formatMs(first)} to ${formatMs(last)}${failureAt === null ? ' (the first)' : ' (the last before the failure)'}.`;
  }
  const drawn: LamportMessage[] = [];
  for (const [id, s] of window) {
    const fate = fates.get(id) ?? { received: [], dropped: [] };
    const type = /"(?:t|type|kind)":"([^"]{1,20})"/.exec(s.text)?.[1] ?? '';
    const title = `#${id} ${s.from} → ${s.to} at ${formatMs(s.atMs)}: ${s.text}`;
    if (fate.received.length === 0) {
      drawn.push({ from: s.from, to: s.to, sentAt: s.atMs, receivedAt: null, label: type, title: `${title} (${fate.dropped.join(', ') || 'in flight at the end'})` });
    }
    for (const at of fate.received) drawn.push({ from: s.from, to: s.to, sentAt: s.atMs, receivedAt: at, label: type, title: `${title}, received at ${formatMs(at)}` });
  }
  return { drawn, total, caption };
}

function eventLegend(): string {
  const kinds = ['send', 'receive', 'drop', 'duplicate', 'timer', 'output', 'request', 'crash', 'restart', 'pause'] as const;
  const swatches = kinds.map((k) => legendSwatch(markSvg(EVENT_STYLES[k].shape, 11, 7, 5, EVENT_STYLES[k].colour), EVENT_STYLES[k].label));
  swatches.push(legendSwatch(`<circle cx="11" cy="7" r="6" fill="none" stroke="#000" stroke-width="1.5"/>${markSvg('cross', 11, 7, 4, OKABE_ITO.vermillion)}`, 'failure'));
  return `<div class="legend">${swatches.join('')}</div>`;
}

function countsTable(nodes: readonly NodeId[], events: readonly TraceRecord[]): string {
  const kinds = ['send', 'receive', 'drop', 'duplicate', 'timer', 'output', 'request', 'crash', 'restart', 'pause'] as const;
  const counts = new Map<string, number>();
  for (const e of events) {
    const row = rowOf(e, new Map());
    if (row !== null) counts.set(`${row} ${e.kind}`, (counts.get(`${row} ${e.kind}`) ?? 0) + 1);
  }
  const head = `<tr><th>node</th>${kinds.map((k) => `<th class="num">${k}</th>`).join('')}</tr>`;
  const rows = nodes.map((n) => `<tr class="node-row" data-node="${escapeHtml(n)}"><td>${escapeHtml(n)}</td>${kinds.map((k) => `<td class="num">${counts.get(`${n} ${k}`) ?? 0}</td>`).join('')}</tr>`);
  return `<table class="counts">${head}${rows.join('')}</table>`;
}

export function simReportHtml(input: SimReportInput): string {
  // The failure is marked on the timeline whether or not the trace saw it (an error thrown outside a step).
  const f = input.failure;
  const events: readonly TraceRecord[] =
    f === undefined || input.trace.events.some((e) => e.kind === 'failure')
      ? input.trace.events
      : [...input.trace.events, { kind: 'failure', atMs: f.atMs ?? input.endedAtMs, node: f.node, text: f.text }];
  const sentAt = new Map<number, number>();
  for (const e of events) if (e.kind === 'send') sentAt.set(e.id, e.atMs);
  const failed = input.failure !== undefined || input.problems.length > 0;
  const badge = `<span class="verdict ${failed ? 'invalid' : 'valid'}">${failed ? 'FAILED' : 'passed'}</span>`;
  const failureAt = input.failure?.atMs ?? null;
  const failurePanel =
    input.failure === undefined
      ? ''
      : `<div class="panel failure" id="failure"><h3>The assertion that failed</h3><p class="mono">${escapeHtml(input.failure.text)}</p>` +
        `<p>at <b>${input.failure.atMs === null ? 'an unknown time' : formatMs(input.failure.atMs)}</b> on <b>${escapeHtml(input.failure.node ?? 'no single node')}</b>: <a href="#failure-mark">see it on the timeline</a>.</p></div>`;
  const problems =
    input.problems.length === 0
      ? ''
      : `<div class="panel problems"><h3>What the checks found</h3><ul>${input.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul></div>`;
  const omitted = input.trace.total - input.trace.events.length;
  const end = Math.max(input.endedAtMs, ...events.map((e) => e.atMs), 1);
  const timeline = renderTimeline({
    rows: input.nodes.map((id) => ({ id })),
    start: 0,
    end,
    marks: timelineMarks(events, sentAt, input.nodes),
    bands: faultBands(input.faults, end),
    rowHeight: 30,
  });
  const lamport = messagesOf(events, failureAt);
  const logs = (input.logs ?? []).slice(-MAX_REPORT_LOG_LINES);
  const body = [
    sharedSvgDefs(),
    `<h1>Simulated seed ${input.seed}: ${escapeHtml(input.title)}</h1>`,
    `<p class="sub">${badge} &nbsp; ${input.nodes.length} nodes, ended at ${formatMs(input.endedAtMs)} of virtual time. Replay: <code>${escapeHtml(input.replay)}</code></p>`,
    failurePanel,
    input.extra === undefined ? problems : input.extra.html,
    '<h2>Every node\'s events</h2>',
    `<p class="sub">Time runs left to right; hover a mark for the event. ${omitted > 0 ? `The trace kept the first ${input.trace.events.length.toLocaleString('en-US')} of ${input.trace.total.toLocaleString('en-US')} events.` : `${input.trace.events.length.toLocaleString('en-US')} events.`}</p>`,
    eventLegend(),
    outcomeAndFaultLegend(['partition', 'crash', 'pause'], false),
    timeline,
    countsTable(input.nodes, events),
    '<h2>Messages (Lamport diagram)</h2>',
    '<p class="sub">One lane per node, time running down; hover an arrow for the message. A cross marks a message that never arrived.</p>',
    lamport.caption === '' ? '' : `<p class="sub">${escapeHtml(lamport.caption)}</p>`,
    renderLamport({ lanes: input.nodes.map((id) => ({ id })), messages: lamport.drawn }),
    '<h2>Settings</h2>',
    `<table>${input.settings.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`,
    input.printed === undefined || input.printed.length === 0 ? '' : `<h2>The run as printed</h2><pre class="mono panel">${escapeHtml(input.printed.join('\n'))}</pre>`,
    logs.length === 0
      ? ''
      : `<h2>Recent log lines</h2><table class="logs">${logs.map((l) => `<tr><td class="num">${formatMs(l.atMs)}</td><td>${escapeHtml(l.node ?? 'sim')}</td><td>${escapeHtml(l.level)}</td><td class="mono">${escapeHtml(l.text)}${l.fields === undefined ? '' : ` ${escapeHtml(JSON.stringify(l.fields))}`}</td></tr>`).join('')}</table>`,
  ].join('\n');
  const extra = input.extra;
  return htmlDocument({
    title: `chatterbox sim seed ${input.seed}: ${input.title}`,
    styles: [
      ...(extra === undefined ? [] : [chartsCss(extra.assets)]),
      BASE_CSS,
      '.failure { border-color: #D55E00; background: #fdf0e8; } .failure h3 { color: #a33f00; margin-top: 0; } pre.panel { white-space: pre-wrap; }',
      ...(extra?.css === undefined ? [] : [extra.css]),
    ],
    ...(extra === undefined ? {} : { scripts: [extra.assets.js, PAGE_DATA_SCRIPT, UPLOT_BOOT_SCRIPT] }),
    body,
  });
}
