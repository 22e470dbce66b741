/**
 * What both live pages share, built on the pictures' document builder (src/pictures/): the look, the status
 * badge, and the browser side of the event stream. The page script calls `liveConnect(render)`: `render(snapshot)`
 * runs for every snapshot; EventSource reconnects on its own, and the badge says "live", "reconnecting…" or,
 * once a snapshot carries `finished`, "finished" for good (the last picture stays).
 */
import { BASE_CSS, PAGE_DATA_SCRIPT, chartsCss, escapeHtml, htmlDocument } from '../../pictures/index.js';
import { readChartAssets } from '../../platform/chart-assets.js';

export const LIVE_CSS = `
body { max-width: 1280px; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
#status { display: inline-block; padding: 2px 10px; border-radius: 10px; font-weight: 700; font-size: 12px; color: #fff; background: #6b6b6b; }
#status.live { background: #0072B2; }
#status.finished { background: #007a5a; }
#status.failed { background: #b34700; }
#status.reconnecting { background: #6b6b6b; }
.cols { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.cols > * { flex: 1 1 420px; min-width: 0; }
td.muted, span.muted { color: var(--muted); }
svg.graph { background: #fff; border: 1px solid var(--rule); border-radius: 6px; }
`;

/** Browser side: the EventSource, the badge, and small formatting helpers the page scripts use. */
export const LIVE_CLIENT_SCRIPT = `
function fmtCount(n) { return n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US'); }
function fmtBytes(n) {
  if (n === null || n === undefined) return '-';
  var units = ['B', 'KB', 'MB', 'GB']; var i = 0; var v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(1)) + ' ' + units[i];
}
function el(tag, attrs, text) {
  var e = document.createElement(tag);
  if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
  if (text !== undefined) e.textContent = text;
  return e;
}
function setStatus(kind, text) { var s = document.getElementById('status'); s.className = kind; s.textContent = text; }
function liveConnect(url, render) {
  var done = false;
  var source = new EventSource(url);
  source.onopen = function () { if (!done) setStatus('live', 'live'); };
  source.onmessage = function (event) {
    var snapshot = JSON.parse(event.data);
    render(snapshot);
    if (snapshot.finished) { done = true; setStatus(snapshot.finished.exitCode === 0 ? 'finished' : 'failed', 'finished'); }
  };
  // EventSource retries by itself; a finished run keeps its badge and its last picture.
  source.onerror = function () { if (!done) setStatus('reconnecting', 'reconnecting…'); };
}
`;

export interface LivePage {
  readonly title: string;
  readonly subtitle: string;
  /** Markup below the header, already escaped. */
  readonly body: string;
  /** Where the page's EventSource connects (relative to the page). */
  readonly eventsUrl: string;
  /** The page's own script; it finds `eventsUrl` as `pageData('live').events`. */
  readonly script: string;
  readonly css?: string;
  /** Inline uPlot (the throughput chart). */
  readonly charts: boolean;
}

export function livePage(page: LivePage): string {
  const assets = page.charts ? readChartAssets() : undefined;
  return htmlDocument({
    title: page.title,
    styles: [...(assets === undefined ? [] : [chartsCss(assets)]), BASE_CSS, LIVE_CSS, ...(page.css === undefined ? [] : [page.css])],
    data: { live: { events: page.eventsUrl } },
    scripts: [...(assets === undefined ? [] : [assets.js]), PAGE_DATA_SCRIPT, LIVE_CLIENT_SCRIPT, page.script],
    body: [
      `<header><h1>${escapeHtml(page.title)}</h1><span id="status" class="reconnecting">connecting…</span></header>`,
      `<p class="sub">${escapeHtml(page.subtitle)}</p>`,
      page.body,
    ].join('\n'),
  });
}
