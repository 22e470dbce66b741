/**
 * The page of `chatterbox cluster --dashboard`: the nodes on a circle with the links between them (width by
 * bytes per second, labelled with messages per second), a table of each node's phase and progress (sent and
 * committed, the watermark, who has confirmed its result, the line it printed), every link's rates, the whole
 * cluster's throughput over time (uPlot), and at the end the verdict. Snapshots: cluster-model.ts.
 */
import { OKABE_ITO } from '../../pictures/index.js';
import { livePage } from './live-page.js';

const CLUSTER_SCRIPT = `
(function () {
  var chart = null;
  function drawChart(h) {
    var data = [h.t, h.sentPerSec, h.committedPerSec];
    if (chart === null) {
      var box = document.getElementById('throughput');
      chart = new uPlot({
        title: 'Throughput, whole cluster', width: Math.max(320, Math.min(1230, box.clientWidth || 1200)), height: 240,
        scales: { x: { time: false } },
        series: [{ label: 'seconds' },
          { label: 'sent / s', stroke: '${OKABE_ITO.blue}', width: 1.6 },
          { label: 'committed / s', stroke: '${OKABE_ITO.vermillion}', width: 1.6, dash: [6, 4] }],
        axes: [{ label: 'seconds since start' }, { label: 'values per second', size: 80 }],
      }, data, box);
    } else {
      chart.setData(data);
    }
  }
  function drawGraph(s) {
    var svg = document.getElementById('graph');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var n = s.nodes.length, cx = 210, cy = 190, r = n === 1 ? 0 : 140;
    var at = {};
    s.nodes.forEach(function (node, i) {
      var a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      at[node.id] = { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
    });
    var pairs = {};
    s.links.forEach(function (l) {
      var key = l.from < l.to ? l.from + ' ' + l.to : l.to + ' ' + l.from;
      var p = pairs[key] || (pairs[key] = { a: l.from < l.to ? l.from : l.to, b: l.from < l.to ? l.to : l.from, msgs: 0, bytes: 0, text: [] });
      p.msgs += l.msgsPerSec; p.bytes += l.bytesPerSec;
      p.text.push(l.from + ' → ' + l.to + ': ' + fmtCount(l.msgsPerSec) + ' msg/s, ' + fmtBytes(l.bytesPerSec) + '/s');
    });
    var max = 1;
    Object.keys(pairs).forEach(function (k) { max = Math.max(max, pairs[k].bytes); });
    Object.keys(pairs).forEach(function (k) {
      var p = pairs[k], a = at[p.a], b = at[p.b];
      if (!a || !b) return;
      var line = document.createElementNS('http://www.w3.org/2000/svg', 'line');
      line.setAttribute('x1', a.x); line.setAttribute('y1', a.y); line.setAttribute('x2', b.x); line.setAttribute('y2', b.y);
      line.setAttribute('stroke', '${OKABE_ITO.skyBlue}');
      line.setAttribute('stroke-width', String(1 + 7 * p.bytes / max));
      line.setAttribute('data-link', p.a + '-' + p.b);
      var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = p.text.join('\\n');
      line.appendChild(title);
      svg.appendChild(line);
      var label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
      label.setAttribute('x', (a.x + b.x) / 2); label.setAttribute('y', (a.y + b.y) / 2 - 3);
      label.setAttribute('font-size', '10'); label.setAttribute('text-anchor', 'middle'); label.setAttribute('fill', '#444');
      label.textContent = fmtCount(p.msgs) + ' msg/s';
      svg.appendChild(label);
    });
    s.nodes.forEach(function (node) {
      var p = at[node.id];
      var running = node.state === 'running';
      var c = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
      c.setAttribute('cx', p.x); c.setAttribute('cy', p.y); c.setAttribute('r', 24);
      c.setAttribute('fill', running ? '${OKABE_ITO.blue}' : node.state === 'exit 0' ? '${OKABE_ITO.bluishGreen}' : '${OKABE_ITO.vermillion}');
      c.setAttribute('stroke', '#fff'); c.setAttribute('stroke-width', '2');
      c.setAttribute('data-node', node.id);
      svg.appendChild(c);
      var t = document.createElementNS('http://www.w3.org/2000/svg', 'text');
      t.setAttribute('x', p.x); t.setAttribute('y', p.y + 4); t.setAttribute('text-anchor', 'middle');
      t.setAttribute('fill', '#fff'); t.setAttribute('font-weight', '700'); t.setAttribute('font-size', '13');
      t.textContent = node.id;
      svg.appendChild(t);
      var ph = document.createElementNS('http://www.w3.org/2000/svg', 'text');
      ph.setAttribute('x', p.x); ph.setAttribute('y', p.y + 40); ph.setAttribute('text-anchor', 'middle');
      ph.setAttribute('font-size', '11'); ph.setAttribute('fill', '#333');
      ph.textContent = running ? node.phase : node.state;
      svg.appendChild(ph);
    });
  }
  function watermark(us) {
    if (us === null) return '-';
    return new Date(us / 1000).toISOString().slice(11, 23);
  }
  function drawNodes(s) {
    var body = document.getElementById('nodes');
    while (body.firstChild) body.removeChild(body.firstChild);
    s.nodes.forEach(function (node) {
      var tr = el('tr', { 'data-node': node.id });
      var peers = s.nodes.length - 1;
      [['id', node.id], ['phase', node.phase], ['state', node.state],
       ['sent num', fmtCount(node.sent)], ['committed num', fmtCount(node.committed)], ['pending num', fmtCount(node.pending)],
       ['rate num', fmtCount(node.sentPerSec)], ['crate num', fmtCount(node.committedPerSec)],
       ['watermark mono', watermark(node.watermarkUs)],
       ['confirmed', node.confirmedBy.length + ' of ' + peers + (node.confirmedBy.length ? ' (' + node.confirmedBy.join(', ') + ')' : '')],
       ['line mono', node.line === null ? '-' : node.line]].forEach(function (cell) {
        tr.appendChild(el('td', { 'class': cell[0] }, cell[1]));
      });
      body.appendChild(tr);
    });
  }
  function drawLinks(s) {
    var body = document.getElementById('links');
    while (body.firstChild) body.removeChild(body.firstChild);
    s.links.forEach(function (l) {
      var tr = el('tr', { 'data-link': l.from + '-' + l.to });
      [l.from + ' → ' + l.to, fmtCount(l.msgsPerSec), fmtBytes(l.bytesPerSec) + '/s', fmtCount(l.msgs), fmtBytes(l.bytes)].forEach(function (text, i) {
        tr.appendChild(el('td', i === 0 ? {} : { 'class': 'num' }, text));
      });
      body.appendChild(tr);
    });
  }
  function render(s) {
    document.getElementById('elapsed').textContent = (s.elapsedMs / 1000).toFixed(1) + ' s of about ' + (s.plannedMs / 1000).toFixed(1) + ' s, protocol ' + s.protocol + ', ' + s.nodes.length + ' nodes';
    drawGraph(s); drawNodes(s); drawLinks(s); drawChart(s.history);
    var v = document.getElementById('verdict');
    if (s.finished) {
      v.hidden = false;
      var head = document.getElementById('verdict-head');
      head.textContent = s.finished.exitCode === 0 ? 'agreement' : 'no agreement (exit ' + s.finished.exitCode + ')';
      head.className = 'verdict ' + (s.finished.exitCode === 0 ? 'valid' : 'invalid');
      document.getElementById('verdict-lines').textContent = s.finished.verdict.join('\\n');
    }
  }
  liveConnect(pageData('live').events, render);
})();
`;

const BODY = `
<p id="elapsed" class="sub">waiting for the first snapshot…</p>
<section id="verdict" class="panel" hidden><span id="verdict-head" class="verdict unknown"></span><pre id="verdict-lines" class="mono"></pre></section>
<div class="cols">
  <div><h2>Nodes and links</h2><svg id="graph" class="graph" width="420" height="390" viewBox="0 0 420 390" role="img" aria-label="nodes and links"></svg></div>
  <div><h2>Links</h2>
    <table><thead><tr><th>link</th><th class="num">msg/s</th><th class="num">bytes/s</th><th class="num">messages</th><th class="num">bytes</th></tr></thead><tbody id="links"></tbody></table>
  </div>
</div>
<h2>Nodes</h2>
<table><thead><tr><th>node</th><th>phase</th><th>process</th><th class="num">sent</th><th class="num">committed</th><th class="num">pending</th><th class="num">sent/s</th><th class="num">committed/s</th><th>watermark (UTC)</th><th>confirmed by</th><th>printed</th></tr></thead><tbody id="nodes"></tbody></table>
<h2>Throughput</h2>
<div id="throughput" class="chart"></div>
`;

/** The whole page (built once per run: uPlot is inlined, nothing is fetched). */
export function clusterDashboardPage(): string {
  return livePage({
    title: 'chatterbox cluster',
    subtitle: 'The agreement job, live: what each node reports in its progress lines, four times a second.',
    body: BODY,
    eventsUrl: 'events',
    script: CLUSTER_SCRIPT,
    charts: true,
  });
}
