/**
 * The harness's picture of a run (`chatterbox harness --report DIR`): latency over time and its distribution
 * per operation kind, throughput, for broadcast and g-set the stable latency (from a write to its sighting on
 * every node), a timeline of every client operation with the nemesis shaded, a Lamport diagram of the messages,
 * the checker's verdict with each anomaly linked to the operations involved, msgs-per-op and the settings.
 * Pure: the caller hands in the report, the history, the recorded messages and the chart library's files.
 */
import {
  BASE_CSS,
  OKABE_ITO,
  PAGE_DATA_SCRIPT,
  UPLOT_BOOT_SCRIPT,
  chartElement,
  chartsCss,
  escapeHtml,
  formatMs,
  htmlDocument,
  niceStep,
  outcomeAndFaultLegend,
  renderLamport,
  renderTimeline,
  seriesColour,
  sharedSvgDefs,
  type ChartAssets,
  type ChartSpec,
  type LamportLane,
  type OutcomeKind,
  type TimelineBand,
  type TimelineSpan,
} from '../pictures/index.js';
import type { MessageRecord } from './message-record.js';
import type { CheckResult, Op, Report } from './types.js';

/** Links listed per anomaly; the rest are counted. */
export const MAX_ANOMALY_LINKS = 40;
/** Anomalies listed per kind; the rest are counted. */
export const MAX_ANOMALIES_LISTED = 50;
/** Points on a quantile curve. */
const QUANTILE_STEPS = 100;
/** Throughput buckets over the run, about. */
const THROUGHPUT_BUCKETS = 60;

export interface HarnessReportInput {
  readonly report: Report;
  /** The run's history (history.jsonl), probes included (they are left out of the pictures). */
  readonly ops: readonly Op[];
  readonly messages: MessageRecord;
  readonly assets: ChartAssets;
}

const anchor = (op: Op): string => `op-${op.index}`;

function outcomeOf(op: Op): OutcomeKind {
  return op.type === 'ok' ? 'ok' : op.type === 'fail' ? 'failed' : 'indeterminate';
}

function short(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function describeOp(op: Op): string {
  const end = op.completeMs === null ? 'never completed' : `${op.type} at ${formatMs(op.completeMs)}`;
  const what = op.value === null || op.value === undefined ? '' : ` ${short(op.value)}`;
  const result = op.result === undefined ? '' : ` → ${short(op.result)}`;
  const error = op.error === undefined ? '' : ` (${op.error.kind === 'code' ? `error ${op.error.code}${op.error.text === undefined ? '' : `: ${op.error.text}`}` : op.error.kind})`;
  return `#${op.index} ${op.client}→${op.node} ${op.final ? 'final ' : ''}${op.f}${what}: invoked at ${formatMs(op.invokeMs)}, ${end}${result}${error}`;
}

function opLink(op: Op): string {
  return `<a class="op-link" href="#${anchor(op)}" title="${escapeHtml(describeOp(op))}">#${op.index} ${escapeHtml(op.f)} on ${escapeHtml(op.node)}</a>`;
}

function linkList(ops: readonly Op[]): string {
  const shown = ops.slice(0, MAX_ANOMALY_LINKS).map(opLink).join(', ');
  return ops.length > MAX_ANOMALY_LINKS ? `${shown} and ${ops.length - MAX_ANOMALY_LINKS} more` : shown;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function byF(ops: readonly Op[]): Map<string, Op[]> {
  const out = new Map<string, Op[]>();
  for (const op of ops) out.set(op.f, [...(out.get(op.f) ?? []), op]);
  return out;
}

/** Latency of every operation over time: a series per kind for ok ones, and one each for failed and indeterminate. */
function latencyChart(ops: readonly Op[]): ChartSpec {
  const kinds = [...byF(ops).keys()];
  const done = ops.filter((op) => op.completeMs !== null).sort((a, b) => a.invokeMs - b.invokeMs);
  const columns: (number | null)[][] = [done.map((op) => op.invokeMs / 1000)];
  for (const f of kinds) columns.push(done.map((op) => (op.type === 'ok' && op.f === f ? Math.max(0.01, op.completeMs! - op.invokeMs) : null)));
  columns.push(done.map((op) => (op.type === 'fail' ? Math.max(0.01, op.completeMs! - op.invokeMs) : null)));
  columns.push(done.map((op) => (op.type === 'info' ? Math.max(0.01, op.completeMs! - op.invokeMs) : null)));
  return {
    title: 'Latency of each operation',
    xLabel: 'invoked at (s)',
    yLabel: 'latency (ms)',
    kind: 'points',
    yLog: true,
    series: [...kinds.map((f, i) => ({ label: `${f} ok`, colour: seriesColour(i) })), { label: 'failed', colour: OKABE_ITO.vermillion }, { label: 'indeterminate', colour: OKABE_ITO.orange }],
    data: columns,
  };
}

/** A quantile curve per series: x the quantile, y the value there (one x grid serves every series). */
function quantileChart(title: string, yLabel: string, series: ReadonlyArray<{ label: string; values: number[] }>): ChartSpec {
  const xs = Array.from({ length: QUANTILE_STEPS + 1 }, (_, i) => i / QUANTILE_STEPS);
  const sorted = series.map((s) => s.values.slice().sort((a, b) => a - b));
  return {
    title,
    xLabel: 'quantile',
    yLabel,
    kind: 'line',
    yLog: true,
    series: series.map((s, i) => ({ label: s.label, colour: seriesColour(i), ...(i % 2 === 1 ? { dash: [6, 3] } : {}) })),
    data: [xs, ...sorted.map((v) => xs.map((q) => (v.length === 0 ? null : Math.max(0.01, quantile(v, q)))))],
  };
}

/** Completions per second over time: ok per kind, and failed and indeterminate over all kinds. */
function throughputChart(ops: readonly Op[], durationMs: number): ChartSpec {
  const step = niceStep(Math.max(durationMs, 1), THROUGHPUT_BUCKETS);
  const buckets = Math.max(1, Math.ceil(durationMs / step));
  const kinds = [...byF(ops).keys()];
  const zero = (): number[] => new Array<number>(buckets).fill(0);
  const ok = new Map(kinds.map((f) => [f, zero()] as const));
  const failed = zero();
  const info = zero();
  for (const op of ops) {
    if (op.completeMs === null) continue;
    const b = Math.min(buckets - 1, Math.floor(op.completeMs / step));
    if (op.type === 'ok') ok.get(op.f)![b]!++;
    else if (op.type === 'fail') failed[b]!++;
    else info[b]!++;
  }
  const perSecond = (counts: number[]): number[] => counts.map((c) => (c * 1000) / step);
  return {
    title: `Throughput (completions per second, in ${formatMs(step)} buckets)`,
    xLabel: 'time (s)',
    yLabel: 'ops/s',
    kind: 'line',
    series: [...kinds.map((f, i) => ({ label: `${f} ok`, colour: seriesColour(i) })), { label: 'failed', colour: OKABE_ITO.vermillion, dash: [4, 3] }, { label: 'indeterminate', colour: OKABE_ITO.orange, dash: [2, 2] }],
    data: [Array.from({ length: buckets }, (_, i) => (i * step) / 1000), ...kinds.map((f) => perSecond(ok.get(f)!)), perSecond(failed), perSecond(info)],
  };
}

/**
 * Stable latency of broadcast and g-set writes: from a write's invocation to the completion of the first read on
 * the last node to show it (reads of a grow-only set only grow, so the first sighting on a node is for good).
 * Probe reads count: they are what makes the sighting timely. Writes not seen on every node have none.
 */
export function stableLatencies(ops: readonly Op[], nodes: readonly string[]): Array<{ invokeMs: number; stableMs: number }> {
  const writes = ops.filter((op) => (op.f === 'add' || op.f === 'broadcast') && !op.probe);
  const firstSeen = new Map<string, Map<string, number>>(nodes.map((n) => [n, new Map()]));
  const reads = ops.filter((op) => op.f === 'read' && op.type === 'ok' && Array.isArray(op.result)).sort((a, b) => a.completeMs! - b.completeMs!);
  for (const read of reads) {
    const seen = firstSeen.get(read.node);
    if (seen === undefined) continue;
    for (const element of read.result as unknown[]) {
      const key = JSON.stringify(element);
      if (!seen.has(key)) seen.set(key, read.completeMs!);
    }
  }
  const out: Array<{ invokeMs: number; stableMs: number }> = [];
  for (const w of writes) {
    const key = JSON.stringify(w.value);
    let last = -Infinity;
    for (const n of nodes) last = Math.max(last, firstSeen.get(n)!.get(key) ?? Infinity);
    if (Number.isFinite(last)) out.push({ invokeMs: w.invokeMs, stableMs: Math.max(0, last - w.invokeMs) });
  }
  return out.sort((a, b) => a.invokeMs - b.invokeMs);
}

/** The nemesis of a process run as bands over nodes (partitions over all). */
function nemesisBands(report: Report): TimelineBand[] {
  const bands: TimelineBand[] = [];
  for (const p of report.nemesis?.partitions ?? []) bands.push({ kind: 'partition', start: p.startMs, end: p.endMs, label: `partition (${p.kind}): ${p.description}` });
  for (const e of report.nemesis?.processes ?? []) bands.push({ kind: e.kind, start: e.startMs, end: e.endMs, rows: [e.node], label: `${e.node} ${e.kind === 'kill' ? 'killed' : 'paused'}` });
  return bands;
}

/** The verdict's anomalies, each with links to the operations involved; and the operations to highlight. */
function anomalies(check: CheckResult | null, ops: readonly Op[]): { html: string; involved: Set<number> } {
  const involved = new Set<number>();
  const mark = (list: readonly Op[]): readonly Op[] => {
    for (const op of list.slice(0, MAX_ANOMALY_LINKS)) involved.add(op.index);
    return list;
  };
  const items: string[] = [];
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const finalReads = ops.filter((op) => op.final && op.f === 'read');
  if (check?.kind === 'set') {
    for (const element of check.lost.slice(0, MAX_ANOMALIES_LISTED)) {
      const writes = mark(ops.filter((op) => (op.f === 'add' || op.f === 'broadcast') && same(op.value, element)));
      const missing = mark(finalReads.filter((op) => op.type === 'ok' && Array.isArray(op.result) && !(op.result as unknown[]).some((e) => same(e, element))));
      items.push(`<li class="anomaly lost" data-element="${escapeHtml(short(element))}"><b>lost ${escapeHtml(short(element))}</b>: written by ${linkList(writes) || 'no operation'}; missing from the final ${missing.length === 1 ? 'read' : 'reads'} ${linkList(missing) || '(none)'}</li>`);
    }
    const listedLost = Math.min(check.lost.length, MAX_ANOMALIES_LISTED);
    if (check.lostCount > listedLost) items.push(`<li>and ${check.lostCount - listedLost} more lost elements (the problem above lists them)</li>`);
    for (const element of check.unexpected.slice(0, MAX_ANOMALIES_LISTED)) {
      const reads = mark(ops.filter((op) => op.f === 'read' && !op.probe && Array.isArray(op.result) && (op.result as unknown[]).some((e) => same(e, element))));
      items.push(`<li class="anomaly unexpected"><b>unexpected ${escapeHtml(short(element))}</b> (never written): read by ${linkList(reads) || 'probe reads only'}</li>`);
    }
  } else if (check?.kind === 'unique-ids') {
    for (const d of check.duplicated.slice(0, MAX_ANOMALIES_LISTED)) {
      const gens = mark(ops.filter((op) => op.type === 'ok' && same(op.result, d.id)));
      items.push(`<li class="anomaly duplicated"><b>id ${escapeHtml(short(d.id))} handed out ${d.count} times</b>: ${linkList(gens)}</li>`);
    }
  } else if (check?.kind === 'lin-kv') {
    for (const k of check.keys.filter((k) => k.valid === false).slice(0, MAX_ANOMALIES_LISTED)) {
      const keyOps = mark(ops.filter((op) => !op.probe && Array.isArray(op.value) && same((op.value as unknown[])[0], k.key)));
      items.push(`<li class="anomaly nonlinearizable"><b>key ${escapeHtml(short(k.key))} is not linearizable</b> (${k.ops} operations searched): ${linkList(keyOps)}</li>`);
    }
  } else if (check?.kind === 'txn') {
    const byIndex = new Map(ops.map((op) => [op.index, op] as const));
    for (const [type, list] of Object.entries(check.anomalies)) {
      for (const a of (list ?? []).slice(0, MAX_ANOMALIES_LISTED)) {
        const txns = mark(a.ops.flatMap((i) => (byIndex.has(i) ? [byIndex.get(i)!] : [])));
        items.push(`<li class="anomaly txn"><b>${escapeHtml(type)}</b>: ${escapeHtml(a.text)}: ${linkList(txns)}</li>`);
      }
    }
  } else if (check?.kind === 'counter') {
    for (const op of mark(finalReads)) items.push(`<li class="anomaly final-read">final read ${opLink(op)}: ${escapeHtml(short(op.result ?? op.type))} (acceptable: ${escapeHtml(check.acceptable.map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`)).join(', '))})</li>`);
  } else if (check?.kind === 'kafka') {
    for (const [kind, e] of Object.entries(check.errors)) items.push(`<li class="anomaly kafka"><b>${escapeHtml(kind)}</b> ×${e?.count ?? 0}: ${escapeHtml((e?.examples ?? []).join('; '))}</li>`);
  }
  const html = items.length === 0 ? '' : `<h3>Anomalies, linked to their operations</h3><ul class="anomalies">${items.join('')}</ul>`;
  return { html, involved };
}

function lamportOf(record: MessageRecord, nodes: readonly string[]): string {
  const clients = [...new Set(record.kept.flatMap((m) => [m.from, m.to]).filter((id) => !nodes.includes(id)))].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)) || a.localeCompare(b));
  const lanes: LamportLane[] = [...nodes.map((id) => ({ id, kind: 'node' as const })), ...clients.map((id) => ({ id, kind: 'client' as const }))];
  const messages = record.kept.map((m) => {
    const type = /"type":"([^"]{1,24})"/.exec(m.line)?.[1] ?? '';
    const line = m.line.length > 300 ? `${m.line.slice(0, 300)}…` : m.line;
    return { from: m.from, to: m.to, sentAt: m.sentMs, receivedAt: m.receivedMs, label: type, title: `${formatMs(m.sentMs)} ${line}${m.receivedMs === null ? ' (dropped)' : ''}` };
  });
  return renderLamport({ lanes, messages, totalMessages: record.total });
}

function settingsTable(r: Report): string {
  const c = r.config;
  const rows: Array<[string, string]> = [
    ['workload', c.workload],
    ['node', [c.bin, ...c.binArgs].join(' ')],
    ['nodes', String(c.nodeCount)],
    ['time limit', `${c.timeLimitS} s`],
    ['rate', `${c.rate} ops/s`],
    ['concurrency', String(c.concurrency)],
    ['latency', `${c.latencyMs} ms (${c.latencyDist})`],
    ['topology', c.topology ?? '—'],
    ['nemesis', c.nemesis.length === 0 ? 'none' : `${c.nemesis.join(', ')} every ${c.nemesisIntervalS} s on average`],
    ['recovery', `${c.recoveryS} s${r.recovery === null ? '' : `, waited ${formatMs(r.recovery.waitedMs)} (ended by ${r.recovery.endedBy})`}`],
    ['timeout', `${c.timeoutMs} ms`],
    ['probes', `every ${c.probeMs} ms`],
    ['seed', String(c.seed)],
    ['duration', formatMs(r.durationMs)],
    ['log dir', r.logDir],
  ];
  return `<table class="settings">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

function numbersTable(r: Report): string {
  const n = r.net;
  const cell = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(2));
  const rows: Array<[string, string]> = [
    ['msgs-per-op (server)', cell(n.msgsPerOp)],
    ['msgs-per-op (all)', cell(n.allMsgsPerOp)],
    ['server-to-server messages', cell(n.serverMessages)],
    ['client messages', cell(n.clientMessages)],
    ['dropped by partitions', cell(n.droppedByPartition)],
    ['dropped while down', cell(n.droppedWhileDown ?? 0)],
    ['late replies', cell(n.lateReplies)],
    ['operations', `${cell(r.ops.total)}: ${cell(r.ops.ok)} ok, ${cell(r.ops.failed)} failed, ${cell(r.ops.indefinite)} indeterminate`],
    ...Object.entries(r.ops.byF).map(([f, c]): [string, string] => [`  ${f}`, `${cell(c.total)}: ${cell(c.ok)} ok, ${cell(c.failed)} failed, ${cell(c.indefinite)} indeterminate`]),
    ['CPU', r.cpu === undefined ? '—' : `harness ${formatMs(r.cpu.harnessMs)}, nodes ${r.cpu.nodesMs === null ? '—' : formatMs(r.cpu.nodesMs)}`],
  ];
  return `<table class="numbers">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td class="num">${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

/** What the operation sections of a page are drawn from: a process run's report, or a simulated run's verdict. */
export interface OperationsInput {
  readonly nodes: readonly string[];
  /** The history, probes included or not (they are left out of the pictures but count for stable latency). */
  readonly ops: readonly Op[];
  readonly check: CheckResult | null;
  readonly workload: string;
  readonly valid: boolean;
  readonly unknown: boolean;
  readonly problems: readonly string[];
  readonly undecided: readonly string[];
  /** Faults over nodes (partitions over all): shaded on the rows of those nodes' clients. */
  readonly bands: readonly TimelineBand[];
  readonly durationMs: number;
}

export interface OperationSections {
  readonly badge: string;
  /** The verdict with its anomalies linked to the operations. */
  readonly verdict: string;
  /** Latency, throughput and (broadcast, g-set) stable latency charts; they need the chart library on the page. */
  readonly charts: string;
  /** Every operation on a timeline, one row per client. */
  readonly timeline: string;
}

/** The verdict, the charts and the operations timeline, shared by the harness page and the simulated seed's page. */
export function operationSections(input: OperationsInput): OperationSections {
  const ops = input.ops.filter((op) => !op.probe);
  const verdict = input.valid ? 'valid' : input.unknown ? 'unknown' : 'invalid';
  const badge = `<span class="verdict ${verdict}">${verdict === 'valid' ? 'valid' : verdict === 'unknown' ? 'unknown' : 'INVALID'}</span>`;
  const { html: anomalyHtml, involved } = anomalies(input.check, input.ops);

  // Timeline: one row per client, in number order, labelled with its node.
  const clientNode = new Map<string, string>();
  for (const op of ops) clientNode.set(op.client, op.node);
  const clients = [...clientNode.keys()].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  const clientsOf = new Map<string, string[]>();
  for (const c of clients) clientsOf.set(clientNode.get(c)!, [...(clientsOf.get(clientNode.get(c)!) ?? []), c]);
  const end = Math.max(input.durationMs, ...ops.map((op) => op.completeMs ?? op.invokeMs), 1);
  const spans: TimelineSpan[] = ops.map((op) => ({
    row: op.client,
    start: op.invokeMs,
    end: op.completeMs,
    outcome: outcomeOf(op),
    title: describeOp(op),
    anchor: anchor(op),
    highlight: involved.has(op.index),
  }));
  // A fault of a node shades its clients' rows; one over all nodes, every row.
  const bands = input.bands.map((b) => (b.rows === undefined || b.rows.length === 0 ? b : { ...b, rows: b.rows.flatMap((n) => clientsOf.get(n) ?? []) }));
  const timeline =
    clients.length === 0
      ? '<p>No client operations.</p>'
      : outcomeAndFaultLegend(['partition', 'kill', 'crash', 'pause']) +
        renderTimeline({ rows: clients.map((c) => ({ id: c, label: `${c} → ${clientNode.get(c)}` })), start: 0, end, spans, bands, rowHeight: 20 });

  const charts: string[] = [];
  const done = ops.filter((op) => op.completeMs !== null);
  if (done.length > 0) {
    charts.push(chartElement('chart-latency', latencyChart(done)));
    const kinds = [...byF(done.filter((op) => op.type === 'ok')).entries()];
    if (kinds.length > 0) charts.push(chartElement('chart-latency-quantiles', quantileChart('Latency distribution of ok operations', 'latency (ms)', kinds.map(([f, list]) => ({ label: f, values: list.map((op) => op.completeMs! - op.invokeMs) })))));
    charts.push(chartElement('chart-throughput', throughputChart(done, end)));
  }
  if (input.workload === 'broadcast' || input.workload === 'g-set') {
    const points = stableLatencies(input.ops, input.nodes);
    if (points.length > 0) {
      charts.push(
        '<h3>Stable latency</h3><p class="sub">From a write\'s invocation to the first read on the last node to show it (probe reads included): Maelstrom\'s stable latency, per write.</p>' +
          chartElement('chart-stable', {
            title: 'Stable latency of each write',
            xLabel: 'invoked at (s)',
            yLabel: 'stable latency (ms)',
            kind: 'points',
            series: [{ label: 'write', colour: OKABE_ITO.blue }],
            data: [points.map((p) => p.invokeMs / 1000), points.map((p) => Math.max(0.01, p.stableMs))],
          }) +
          chartElement('chart-stable-quantiles', quantileChart('Stable latency distribution', 'stable latency (ms)', [{ label: 'write', values: points.map((p) => p.stableMs) }])),
      );
    }
  }
  const problems = input.problems.length === 0 ? '' : `<h3>Problems</h3><ul class="problems">${input.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>`;
  const undecided = input.undecided.length === 0 ? '' : `<h3>Undecided</h3><ul>${input.undecided.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>`;
  const nothing = input.problems.length === 0 && input.undecided.length === 0 ? '<p>The checker found nothing wrong.</p>' : '';
  return { badge, verdict: `<div class="panel">${badge}${problems}${undecided}${anomalyHtml}${nothing}</div>`, charts: charts.join('\n'), timeline };
}

/** Styles the operation sections need beside BASE_CSS and the chart library's. */
export const OPERATIONS_CSS = '.node-chip { display: inline-block; padding: 0 6px; margin: 0 2px; border: 1px solid #0072B2; border-radius: 3px; font-size: 12px; } .anomalies li { margin: 4px 0; } g.op:target rect { stroke: #000; stroke-width: 3; }';

export function harnessReportHtml(input: HarnessReportInput): string {
  const r = input.report;
  const nodes = r.nodes.map((n) => n.id);
  const sections = operationSections({
    nodes,
    ops: input.ops,
    check: r.check,
    workload: r.config.workload,
    valid: r.valid,
    unknown: r.unknown,
    problems: r.problems,
    undecided: r.undecided,
    bands: nemesisBands(r),
    durationMs: r.durationMs,
  });
  const verdict = r.valid ? 'valid' : r.unknown ? 'unknown' : 'invalid';
  const nodeList = r.nodes.map((n) => `<span class="node-chip" data-node="${escapeHtml(n.id)}">${escapeHtml(n.id)}${n.crashedAtMs === null ? '' : ` (exited at ${formatMs(n.crashedAtMs)})`}</span>`).join(' ');
  const m = input.messages;
  const body = [
    sharedSvgDefs(),
    `<h1>Harness run: ${escapeHtml(r.config.workload)}, ${r.config.nodeCount} nodes</h1>`,
    `<p class="sub">${sections.badge} &nbsp; seed ${r.config.seed}, ${formatMs(r.durationMs)}, ${r.ops.total.toLocaleString('en-US')} operations, msgs-per-op ${r.net.msgsPerOp === null ? '—' : r.net.msgsPerOp.toFixed(2)}. Nodes: ${nodeList}</p>`,
    '<h2 id="verdict">Verdict</h2>',
    sections.verdict,
    '<h2>Latency and throughput</h2>',
    sections.charts,
    '<h2>Operations</h2>',
    '<p class="sub">One row per client (its node after the arrow), each operation from invocation to completion; hover for the operation. Operations named in the verdict are outlined.</p>',
    sections.timeline,
    '<h2>Messages (Lamport diagram)</h2>',
    `<p class="sub">Nodes (solid lanes) and clients (dashed), time running down; hover an arrow for the message. ${m.probes.toLocaleString('en-US')} probe messages are left out.</p>`,
    lamportOf(m, nodes),
    '<h2>Numbers</h2>',
    numbersTable(r),
    '<h2>Settings</h2>',
    settingsTable(r),
  ].join('\n');
  return htmlDocument({
    title: `chatterbox harness: ${r.config.workload} seed ${r.config.seed} (${verdict})`,
    styles: [chartsCss(input.assets), BASE_CSS, OPERATIONS_CSS],
    data: { run: { config: r.config, valid: r.valid, unknown: r.unknown, problems: r.problems, net: r.net, ops: r.ops } },
    scripts: [input.assets.js, PAGE_DATA_SCRIPT, UPLOT_BOOT_SCRIPT],
    body,
  });
}
