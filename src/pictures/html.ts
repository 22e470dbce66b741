/**
 * The one way to build a self-contained HTML page: every style and script inline, data embedded as JSON in a
 * `<script type="application/json">` element, nothing fetched, so a page opens from disk with no network.
 * Pure: builds strings, no I/O (the chart library's files are read by `src/platform/chart-assets.ts`).
 */
import { assert } from '../core/assert.js';

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON safe inside a `<script>` element: `<` is escaped (so no `</script>` or `<!--` can end it early) and so are
 * U+2028/U+2029, which older parsers read as line ends. `JSON.parse` of the element's text gives the value back.
 */
export function jsonForScript(value: unknown): string {
  const json = JSON.stringify(value);
  assert(json !== undefined, 'jsonForScript: the value has no JSON form');
  return json.replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A script's source inline; `</script` in it would end the element, so it is split (libraries' strings can hold it). */
function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1');
}

/** Styles inline; `</style` would end the element. */
function inlineStyle(source: string): string {
  return source.replace(/<\/(style)/gi, '<\\/$1');
}

export interface HtmlDocument {
  readonly title: string;
  /** Style sheets, inlined in order (the chart library's first, the page's own after). */
  readonly styles?: readonly string[];
  /** Data for the page's scripts: each becomes `<script type="application/json" id="ID">`; read with `pageData(id)`. */
  readonly data?: Readonly<Record<string, unknown>>;
  /** Scripts inlined in order at the end of the body, after the data (libraries first). */
  readonly scripts?: readonly string[];
  /** The body's markup, already escaped by the caller. */
  readonly body: string;
}

/** Element ids of embedded data: letters, digits, '-' and '_', so they need no escaping. */
const DATA_ID = /^[A-Za-z][\w-]*$/;

/** A script that reads an embedded data element: `pageData('run')`. Pages include it before their own scripts. */
export const PAGE_DATA_SCRIPT = "function pageData(id){var e=document.getElementById(id);return e===null?null:JSON.parse(e.textContent);}";

/** The whole page. */
export function htmlDocument(doc: HtmlDocument): string {
  const data = Object.entries(doc.data ?? {}).map(([id, value]) => {
    assert(DATA_ID.test(id), `htmlDocument: data id ${JSON.stringify(id)} is not a plain identifier`);
    return `<script type="application/json" id="${id}">${jsonForScript(value)}</script>`;
  });
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.title)}</title>`,
    ...(doc.styles ?? []).map((s) => `<style>${inlineStyle(s)}</style>`),
    '</head>',
    '<body>',
    doc.body,
    ...data,
    ...(doc.scripts ?? []).map((s) => `<script>${inlineScript(s)}</script>`),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** The pages' shared look: readable type, tables, sections, the legend; pages add their own after it. */
export const BASE_CSS = `
:root { color-scheme: light; --fg: #1b1b1b; --muted: #5f5f5f; --rule: #d9d9d9; --bg: #ffffff; --panel: #f6f6f4; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 14px; margin: 16px 0 6px; }
p.sub { color: var(--muted); margin: 0 0 12px; }
table { border-collapse: collapse; margin: 4px 0 12px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; font-weight: 700; color: #fff; }
.verdict.valid { background: #007a5a; }
.verdict.invalid { background: #b34700; }
.verdict.unknown { background: #6b6b6b; }
.panel { background: var(--panel); border: 1px solid var(--rule); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 0; color: var(--muted); font-size: 12px; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.scroll { overflow-x: auto; border: 1px solid var(--rule); border-radius: 6px; background: #fff; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
:target { outline: 3px solid #0072B2; outline-offset: 1px; }
a { color: #0060a0; }
`;
