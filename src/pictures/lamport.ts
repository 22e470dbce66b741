/**
 * A Lamport diagram (space-time diagram, Lamport 1978), as Maelstrom's messages.svg draws one: a vertical lane
 * per process, time running down, one arrow per message from its send to its receipt, hover text in `<title>`.
 * A message that never arrived (dropped, or the run ended) ends in a cross a little way along. Used by the
 * harness report and the simulator report alike.
 */
import { assert } from '../core/assert.js';
import { escapeHtml } from './html.js';
import { OKABE_ITO, markSvg } from './palette.js';
import { timeScale } from './scale.js';

/**
 * The most messages one diagram draws. Past it the arrows cannot be told apart and the page grows to megabytes,
 * so the diagram is replaced by a sentence saying how many there were.
 */
export const MAX_LAMPORT_MESSAGES = 2_000;
/** Pixels of height per millisecond are chosen so the diagram is at most this tall (and at least its lanes' header). */
export const LAMPORT_MAX_HEIGHT_PX = 2_400;

export interface LamportLane {
  readonly id: string;
  /** Shown at the top of the lane; defaults to the id. */
  readonly label?: string;
  /** Clients are drawn apart from nodes (a different lane colour). */
  readonly kind?: 'node' | 'client';
}

export interface LamportMessage {
  readonly from: string;
  readonly to: string;
  readonly sentAt: number;
  /** When it arrived; null when it never did (dropped, lost to a partition, or still in flight at the end). */
  readonly receivedAt: number | null;
  /** A short label drawn near the arrow (the message type). */
  readonly label: string;
  /** The hover text: the message itself. */
  readonly title: string;
  /** Draws the arrow highlighted (e.g. the messages of an anomaly). */
  readonly highlight?: boolean;
}

export interface LamportDiagram {
  readonly lanes: readonly LamportLane[];
  readonly messages: readonly LamportMessage[];
  /** How many messages there were in all, when `messages` holds only some (a recorder's bound). */
  readonly totalMessages?: number;
  /** The time span drawn; defaults to the messages'. */
  readonly start?: number;
  readonly end?: number;
}

const LANE_GAP = 110;
const MARGIN_TOP = 40;
const MARGIN_LEFT = 70;
const MIN_PX_PER_MS = 0.05;
const MAX_PX_PER_MS = 4;

/** The diagram as an SVG element, or a paragraph saying why there is none. */
export function renderLamport(diagram: LamportDiagram): string {
  const total = Math.max(diagram.totalMessages ?? 0, diagram.messages.length);
  if (total > MAX_LAMPORT_MESSAGES || diagram.messages.length < total) {
    return `<p class="lamport-omitted">${total.toLocaleString('en-US')} messages: too many to draw one by one (the diagram stops at ${MAX_LAMPORT_MESSAGES.toLocaleString('en-US')}); a shorter run draws them.</p>`;
  }
  if (diagram.lanes.length === 0 || diagram.messages.length === 0) return '<p class="lamport-omitted">No messages to draw.</p>';
  const laneIndex = new Map(diagram.lanes.map((l, i) => [l.id, i] as const));
  const times = diagram.messages.flatMap((m) => (m.receivedAt === null ? [m.sentAt] : [m.sentAt, m.receivedAt]));
  const start = diagram.start ?? Math.min(...times);
  const end = diagram.end ?? Math.max(...times);
  const span = Math.max(1, end - start);
  const pxPerMs = Math.min(MAX_PX_PER_MS, Math.max(MIN_PX_PER_MS, (LAMPORT_MAX_HEIGHT_PX - MARGIN_TOP - 20) / span));
  const height = Math.ceil(MARGIN_TOP + span * pxPerMs + 30);
  const width = MARGIN_LEFT + LANE_GAP * diagram.lanes.length;
  const y = timeScale(start, start + span, MARGIN_TOP, MARGIN_TOP + span * pxPerMs);
  const laneX = (id: string): number => {
    const i = laneIndex.get(id);
    assert(i !== undefined, `renderLamport: message names an unknown lane ${id}`);
    return MARGIN_LEFT + LANE_GAP * i + LANE_GAP / 2;
  };
  const parts: string[] = [];
  for (const tick of y.ticks()) {
    const ty = y.x(tick.t).toFixed(1);
    parts.push(`<line x1="${MARGIN_LEFT}" y1="${ty}" x2="${width}" y2="${ty}" stroke="#eee"/><text x="${MARGIN_LEFT - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle" font-size="10" fill="#666">${escapeHtml(tick.label)}</text>`);
  }
  for (const lane of diagram.lanes) {
    const x = laneX(lane.id);
    const colour = lane.kind === 'client' ? OKABE_ITO.orange : OKABE_ITO.blue;
    parts.push(
      `<g class="lane" data-lane="${escapeHtml(lane.id)}"><line x1="${x}" y1="${MARGIN_TOP - 8}" x2="${x}" y2="${height - 10}" stroke="${colour}" stroke-width="2"${lane.kind === 'client' ? ' stroke-dasharray="6 3"' : ''}/>` +
        `<text x="${x}" y="${MARGIN_TOP - 16}" text-anchor="middle" font-size="12" font-weight="600">${escapeHtml(lane.label ?? lane.id)}</text></g>`,
    );
  }
  for (const m of diagram.messages) {
    const x1 = laneX(m.from);
    const y1 = y.x(m.sentAt);
    const colour = m.highlight === true ? OKABE_ITO.vermillion : '#555';
    const width = m.highlight === true ? 2 : 1;
    const title = `<title>${escapeHtml(m.title)}</title>`;
    if (m.receivedAt === null) {
      // Never arrived: a short dashed stub toward the receiver, ending in a cross.
      const x2 = x1 + (laneX(m.to) - x1) * 0.35;
      const y2 = y1 + 12;
      parts.push(`<g class="msg lost">${title}<line x1="${x1}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${OKABE_ITO.vermillion}" stroke-dasharray="3 2"/>${markSvg('cross', x2, y2, 3.5, OKABE_ITO.vermillion)}</g>`);
      continue;
    }
    const x2 = laneX(m.to);
    const y2 = y.x(m.receivedAt);
    const mx = (x1 + x2) / 2;
    const my = (y1 + y2) / 2;
    parts.push(
      `<g class="msg">${title}<line x1="${x1}" y1="${y1.toFixed(1)}" x2="${x2}" y2="${y2.toFixed(1)}" stroke="${colour}" stroke-width="${width}" marker-end="url(#arrowhead)"/>` +
        `<line x1="${x1}" y1="${y1.toFixed(1)}" x2="${x2}" y2="${y2.toFixed(1)}" stroke="transparent" stroke-width="8"/>` +
        `<text x="${mx.toFixed(1)}" y="${(my - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="${colour}">${escapeHtml(m.label)}</text></g>`,
    );
  }
  return `<div class="scroll"><svg class="lamport" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Lamport diagram of ${diagram.messages.length} messages">${parts.join('')}</svg></div>`;
}
