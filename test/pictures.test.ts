import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readChartAssets } from '../src/platform/chart-assets.js';
import { MAX_LAMPORT_MESSAGES, escapeHtml, htmlDocument, jsonForScript, niceStep, renderLamport, renderTimeline, timeScale } from '../src/pictures/index.js';

test('escapeHtml escapes the five characters markup and attributes need', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('embedded JSON cannot end its script element and parses back to the value', () => {
  const value = { s: '</script><script>alert(1)</script>', t: '<!--', u: '\u2028' };
  const json = jsonForScript(value);
  assert.doesNotMatch(json, /<\/script/i);
  assert.doesNotMatch(json, /</);
  assert.deepEqual(JSON.parse(json), value);
  const page = htmlDocument({ title: 'a <b>', body: '<p>x</p>', data: { run: value }, scripts: ['var s = "</script>";'] });
  assert.equal(page.match(/<\/script>/g)?.length, 2, 'only the two elements close');
  assert.match(page, /<title>a &lt;b&gt;<\/title>/);
  assert.throws(() => htmlDocument({ title: '', body: '', data: { 'bad id"': 1 } }));
});

test('the time scale maps its domain onto its range, clamps, and ticks at 1, 2, 5 × 10^k', () => {
  const s = timeScale(0, 1000, 100, 1100);
  assert.equal(s.x(0), 100);
  assert.equal(s.x(500), 600);
  assert.equal(s.x(5000), 1100);
  assert.deepEqual(s.ticks().map((t) => t.t), [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  assert.equal(niceStep(20_000), 2000);
  assert.equal(niceStep(7), 1);
  assert.equal(timeScale(0, 20_000, 0, 10).ticks()[1]!.label, '2 s');
});

test('the Lamport diagram draws a lane per process and an arrow per message, and gives up past its bound', () => {
  const lanes = [{ id: 'n1' }, { id: 'n2' }, { id: 'c1', kind: 'client' as const }];
  const messages = [
    { from: 'c1', to: 'n1', sentAt: 0, receivedAt: 5, label: 'add', title: '{"type":"add","element":1}' },
    { from: 'n1', to: 'n2', sentAt: 6, receivedAt: null, label: 'gossip', title: 'lost <here>' },
  ];
  const svg = renderLamport({ lanes, messages });
  assert.equal(svg.match(/class="lane"/g)?.length, 3);
  assert.equal(svg.match(/class="msg/g)?.length, 2);
  assert.match(svg, /<title>lost &lt;here&gt;<\/title>/);
  const many = Array.from({ length: MAX_LAMPORT_MESSAGES + 1 }, (_, i) => ({ ...messages[0]!, sentAt: i, receivedAt: i + 1 }));
  const omitted = renderLamport({ lanes, messages: many });
  assert.doesNotMatch(omitted, /<svg/);
  assert.match(omitted, /2,001 messages/);
  assert.match(renderLamport({ lanes, messages, totalMessages: 10 }), /too many|10 messages/, 'a recorder that kept only some says so');
});

test('the timeline anchors operations for links and shades faults on their rows', () => {
  const svg = renderTimeline({
    rows: [{ id: 'c1' }, { id: 'c2' }],
    start: 0,
    end: 100,
    spans: [
      { row: 'c1', start: 1, end: 5, outcome: 'ok', title: 'add 1', anchor: 'op-1' },
      { row: 'c2', start: 2, end: null, outcome: 'indeterminate', title: 'add 2', anchor: 'op-2' },
    ],
    bands: [{ kind: 'partition', start: 10, end: 20, rows: ['c2'], label: 'partition' }],
  });
  assert.match(svg, /id="op-1"/);
  assert.match(svg, /class="op indeterminate" id="op-2"/);
  assert.equal(svg.match(/class="band partition"/g)?.length, 1);
  assert.throws(() => renderTimeline({ rows: [{ id: 'c1' }], start: 0, end: 1, spans: [{ row: 'nope', start: 0, end: 1, outcome: 'ok', title: '' }] }));
});

test('the chart library is read from the installed package', () => {
  const assets = readChartAssets();
  assert.match(assets.js, /uPlot/);
  assert.ok(assets.js.length > 30_000 && assets.js.length < 100_000, 'the minified build, about 50 KB');
  assert.match(assets.css, /\.uplot/);
});
