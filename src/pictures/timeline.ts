/**
 * A horizontal timeline: one row per process, time left to right; spans (an operation from invocation to
 * completion), point marks (an event) and shaded bands (a fault, over some rows or all). Every element may carry
 * an anchor id, so a verdict can link to it, and a `<title>` for hover. Used by both reports.
 */
import { assert } from '../core/assert.js';
import { escapeHtml } from './html.js';
import { FAULT_STYLES, type FaultKind, type MarkShape, OUTCOME_STYLES, type OutcomeKind, markSvg } from './palette.js';
import { timeScale } from './scale.js';

/** The most spans and marks one timeline draws; past it, the first ones are drawn and a line says how many were left out. */
export const MAX_TIMELINE_ITEMS = 20_000;

export interface TimelineRow {
  readonly id: string;
  readonly label?: string;
}

export interface TimelineSpan {
  readonly row: string;
  readonly start: number;
  /** null: never completed (drawn to the end of the axis). */
  readonly end: number | null;
  readonly outcome: OutcomeKind;
  readonly title: string;
  /** An element id, for links from the verdict (`#op-12`). */
  readonly anchor?: string;
  readonly highlight?: boolean;
}

export interface TimelineMark {
  readonly row: string;
  readonly at: number;
  readonly shape: MarkShape;
  readonly colour: string;
  readonly title: string;
  readonly anchor?: string;
  /** Drawn larger, ringed (the failed assertion). */
  readonly highlight?: boolean;
}

export interface TimelineBand {
  readonly kind: FaultKind;
  readonly start: number;
  /** null: to the end of the axis. */
  readonly end: number | null;
  /** Rows shaded; empty or undefined: all. */
  readonly rows?: readonly string[];
  readonly label: string;
}

export interface Timeline {
  readonly rows: readonly TimelineRow[];
  readonly start: number;
  readonly end: number;
  readonly spans?: readonly TimelineSpan[];
  readonly marks?: readonly TimelineMark[];
  readonly bands?: readonly TimelineBand[];
  /** Pixels per row; spans are stacked within a row if they overlap (a client's ops never do). */
  readonly rowHeight?: number;
  readonly width?: number;
}

const LABEL_WIDTH = 90;
const AXIS_HEIGHT = 24;
const BAND_LABEL_HEIGHT = 13;
/** Band labels that would overlap go on further lines above the rows, up to this many (then they may overlap). */
const MAX_BAND_LABEL_LINES = 4;
/** A label's width, estimated: SVG text cannot be measured without a browser. */
const LABEL_CHAR_PX = 5.6;

export function renderTimeline(t: Timeline): string {
  assert(t.rows.length > 0, 'renderTimeline: at least one row');
  const rowHeight = t.rowHeight ?? 22;
  const width = t.width ?? 1120;
  const x = timeScale(t.start, t.end, LABEL_WIDTH, width - 10);
  // Each band's label on the first line where it clears the labels already there (greedy interval packing).
  const lineEnds: number[] = [];
  const labelLine = (t.bands ?? []).map((b) => {
    const x1 = x.x(b.start);
    let line = lineEnds.findIndex((end) => end < x1);
    if (line === -1) line = lineEnds.length < MAX_BAND_LABEL_LINES ? lineEnds.length : lineEnds.length - 1;
    lineEnds[line] = x1 + b.label.length * LABEL_CHAR_PX + 8;
    return line;
  });
  const top = BAND_LABEL_HEIGHT * Math.max(1, lineEnds.length) + 4;
  const height = top + rowHeight * t.rows.length + AXIS_HEIGHT;
  const rowIndex = new Map(t.rows.map((r, i) => [r.id, i] as const));
  const rowY = (id: string): number => {
    const i = rowIndex.get(id);
    assert(i !== undefined, `renderTimeline: unknown row ${id}`);
    return top + i * rowHeight;
  };
  const parts: string[] = [];
  t.rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    if (i % 2 === 1) parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${width - LABEL_WIDTH - 10}" height="${rowHeight}" fill="#f7f7f5"/>`);
    parts.push(`<text class="row-label" x="${LABEL_WIDTH - 8}" y="${y + rowHeight / 2}" text-anchor="end" dominant-baseline="middle" font-size="12">${escapeHtml(r.label ?? r.id)}</text>`);
  });
  for (const [bandIndex, b] of (t.bands ?? []).entries()) {
    const s = FAULT_STYLES[b.kind];
    const x1 = x.x(b.start);
    const x2 = Math.max(x1 + 2, x.x(b.end ?? t.end));
    const rows = b.rows === undefined || b.rows.length === 0 ? t.rows.map((r) => r.id) : b.rows;
    const title = `<title>${escapeHtml(b.label)}</title>`;
    for (const r of rows) {
      if (!rowIndex.has(r)) continue;
      parts.push(`<rect class="band ${b.kind}" x="${x1.toFixed(1)}" y="${rowY(r)}" width="${(x2 - x1).toFixed(1)}" height="${rowHeight}" fill="${s.fill}" stroke="${s.colour}" stroke-width="0.5">${title}</rect>`);
    }
    const labelY = BAND_LABEL_HEIGHT * (labelLine[bandIndex]! + 1) - 2;
    parts.push(`<line x1="${x1.toFixed(1)}" y1="${labelY + 2}" x2="${x1.toFixed(1)}" y2="${top}" stroke="${s.colour}" stroke-width="0.8"/><text x="${(x1 + 3).toFixed(1)}" y="${labelY}" font-size="10" fill="#333">${escapeHtml(b.label)}</text>`);
  }
  const spans = t.spans ?? [];
  const marks = t.marks ?? [];
  const drawnSpans = spans.slice(0, MAX_TIMELINE_ITEMS);
  const drawnMarks = marks.slice(0, Math.max(0, MAX_TIMELINE_ITEMS - drawnSpans.length));
  for (const s of drawnSpans) {
    const style = OUTCOME_STYLES[s.outcome];
    const y = rowY(s.row);
    const x1 = x.x(s.start);
    const x2 = Math.max(x1 + 2, x.x(s.end ?? t.end));
    const id = s.anchor === undefined ? '' : ` id="${escapeHtml(s.anchor)}"`;
    const stroke = s.highlight === true ? ' stroke="#000" stroke-width="2"' : ` stroke="${style.colour}" stroke-width="0.8"`;
    parts.push(
      `<g class="op ${s.outcome}"${id}><title>${escapeHtml(s.title)}</title>` +
        `<rect x="${x1.toFixed(1)}" y="${y + 4}" width="${(x2 - x1).toFixed(1)}" height="${rowHeight - 8}" fill="${style.fill}"${stroke}/>` +
        (s.end === null ? '' : markSvg(style.shape, x2, y + rowHeight / 2, 3.5, style.colour)) +
        '</g>',
    );
  }
  for (const m of drawnMarks) {
    const y = rowY(m.row) + rowHeight / 2;
    const id = m.anchor === undefined ? '' : ` id="${escapeHtml(m.anchor)}"`;
    const r = m.highlight === true ? 7 : 3.5;
    const ring = m.highlight === true ? `<circle cx="${x.x(m.at).toFixed(1)}" cy="${y}" r="11" fill="none" stroke="#000" stroke-width="2"/>` : '';
    parts.push(`<g class="mark"${id}><title>${escapeHtml(m.title)}</title>${ring}${markSvg(m.shape, x.x(m.at), y, r, m.colour)}</g>`);
  }
  const axisY = top + rowHeight * t.rows.length;
  parts.push(`<line x1="${LABEL_WIDTH}" y1="${axisY}" x2="${width - 10}" y2="${axisY}" stroke="#999"/>`);
  for (const tick of x.ticks()) {
    const tx = x.x(tick.t).toFixed(1);
    parts.push(`<line x1="${tx}" y1="${axisY}" x2="${tx}" y2="${axisY + 4}" stroke="#999"/><text x="${tx}" y="${axisY + 15}" text-anchor="middle" font-size="10" fill="#555">${escapeHtml(tick.label)}</text>`);
  }
  const omitted = spans.length + marks.length - drawnSpans.length - drawnMarks.length;
  const note = omitted > 0 ? `<p class="sub">${omitted.toLocaleString('en-US')} more items not drawn (the timeline stops at ${MAX_TIMELINE_ITEMS.toLocaleString('en-US')}).</p>` : '';
  return `<div class="scroll"><svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">${parts.join('')}</svg></div>${note}`;
}
