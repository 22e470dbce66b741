/**
 * The page of `chatterbox ranges serve --ui` (snapshots: ranges-ui.ts): per group, the key space [0, 2^32) as a
 * bar, each subrange coloured by its first owner and titled with all its owners by priority, then a table of the
 * subranges; the members by state; this node's message and byte rates. Owners keep one colour across groups
 * (Okabe–Ito, by the node's place among the members), and a subrange nobody owns is left blank.
 */
import { SERIES_COLOURS } from '../../pictures/index.js';

export const RANGES_UI_CSS = `
svg.bar { display: block; width: 100%; height: 46px; margin: 4px 0 2px; }
.axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 11px; margin-bottom: 8px; }
.state-alive { color: #007a5a; font-weight: 600; } .state-suspect { color: #b36b00; font-weight: 600; }
.state-dead { color: #b34700; font-weight: 600; } .state-left, .state-listed { color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
`;

export const RANGES_UI_BODY = `
<p id="rates" class="sub">waiting for the first snapshot…</p>
<section id="verdict" class="panel" hidden><span id="verdict-head" class="verdict unknown"></span><pre id="verdict-lines" class="mono"></pre></section>
<h2>Members</h2>
<p id="members-note" class="sub"></p>
<table><thead><tr><th>node</th><th>state</th><th>groups</th></tr></thead><tbody id="members"></tbody></table>
<div id="groups"></div>
`;

export function rangesUiScript(): string {
  return `
(function () {
  var COLOURS = ${JSON.stringify(SERIES_COLOURS)};
  var SPACE = 4294967296;
  function hex(n) { return '0x' + n.toString(16).padStart(8, '0'); }
  function colourOf(s, node) {
    var i = s.members.findIndex(function (m) { return m.id === node; });
    return COLOURS[(i < 0 ? s.members.length : i) % COLOURS.length];
  }
  function drawMembers(s) {
    document.getElementById('members-note').textContent = s.membershipStates
      ? 'States as this node\\'s membership sees them.'
      : 'Membership knows no members yet: the nodes of the peers file are listed.';
    var body = document.getElementById('members');
    while (body.firstChild) body.removeChild(body.firstChild);
    s.members.forEach(function (m) {
      var tr = el('tr', { 'data-member': m.id });
      var id = el('td', { 'class': 'id' });
      id.appendChild(el('span', { 'class': 'swatch', style: 'background:' + colourOf(s, m.id) }));
      id.appendChild(document.createTextNode(m.id));
      tr.appendChild(id);
      tr.appendChild(el('td', { 'class': 'state state-' + m.state }, m.state));
      var groups = s.groups.filter(function (g) { return g.members.indexOf(m.id) >= 0; }).map(function (g) { return g.name; });
      tr.appendChild(el('td', { 'class': 'groups' }, groups.join(', ') || '-'));
      body.appendChild(tr);
    });
  }
  function drawGroup(s, g) {
    var section = el('section', { 'data-group': g.name });
    section.appendChild(el('h2', {}, 'Group ' + g.name));
    section.appendChild(el('p', { 'class': 'sub' }, 'members: ' + (g.members.join(', ') || 'none') + '; ' + g.subranges.length + ' subranges' + (g.moreSubranges ? ' (and ' + g.moreSubranges + ' more not shown)' : '')));
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'bar'); svg.setAttribute('viewBox', '0 0 1000 46'); svg.setAttribute('preserveAspectRatio', 'none');
    var frame = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    frame.setAttribute('x', 0); frame.setAttribute('y', 0); frame.setAttribute('width', 1000); frame.setAttribute('height', 46);
    frame.setAttribute('fill', '#fff'); frame.setAttribute('stroke', '#d9d9d9');
    svg.appendChild(frame);
    g.subranges.forEach(function (r) {
      if (r.owners.length === 0) return;
      var x = 1000 * r.start / SPACE, w = Math.max(0.5, 1000 * (r.end - r.start) / SPACE);
      // Owners by priority, stacked: the first owner's band is the tallest.
      r.owners.slice(0, 3).forEach(function (o, k) {
        var rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
        rect.setAttribute('x', x); rect.setAttribute('width', w);
        rect.setAttribute('y', k === 0 ? 0 : 30 + 8 * (k - 1)); rect.setAttribute('height', k === 0 ? 30 : 8);
        rect.setAttribute('fill', colourOf(s, o.node)); rect.setAttribute('stroke', '#fff'); rect.setAttribute('stroke-width', '0.5');
        var title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
        title.textContent = '[' + hex(r.start) + ', ' + hex(r.end) + '): ' + r.owners.map(function (x) { return x.node + ' (priority ' + x.priority + ')'; }).join(' > ');
        rect.appendChild(title);
        svg.appendChild(rect);
      });
    });
    section.appendChild(svg);
    var axis = el('div', { 'class': 'axis' });
    ['0', '2^30', '2^31', '3·2^30', '2^32'].forEach(function (t) { axis.appendChild(el('span', {}, t)); });
    section.appendChild(axis);
    var table = el('table');
    var head = el('tr');
    ['start', 'end', 'owners by priority'].forEach(function (h) { head.appendChild(el('th', {}, h)); });
    table.appendChild(el('thead')).appendChild(head);
    var body = el('tbody');
    g.subranges.forEach(function (r) {
      var tr = el('tr', { 'data-start': String(r.start), 'data-end': String(r.end) });
      tr.appendChild(el('td', { 'class': 'mono start' }, hex(r.start)));
      tr.appendChild(el('td', { 'class': 'mono end' }, hex(r.end)));
      tr.appendChild(el('td', { 'class': 'owners' }, r.owners.length === 0 ? '(nobody)' : r.owners.map(function (o) { return o.node + ' (' + o.priority + ')'; }).join(' > ')));
      body.appendChild(tr);
    });
    table.appendChild(body);
    section.appendChild(table);
    return section;
  }
  function render(s) {
    var r = s.rates;
    document.getElementById('rates').textContent = 'node ' + s.node.id + ', cluster ' + s.node.clusterId + ': in ' + fmtCount(r.msgsInPerSec) + ' msg/s, ' + fmtBytes(r.bytesInPerSec) + '/s; out ' + fmtCount(r.msgsOutPerSec) + ' msg/s, ' + fmtBytes(r.bytesOutPerSec) + '/s';
    drawMembers(s);
    var box = document.getElementById('groups');
    while (box.firstChild) box.removeChild(box.firstChild);
    if (s.groups.length === 0) box.appendChild(el('p', { 'class': 'sub' }, 'No groups yet.'));
    s.groups.forEach(function (g) { box.appendChild(drawGroup(s, g)); });
    if (s.moreGroups) box.appendChild(el('p', { 'class': 'sub' }, 'and ' + s.moreGroups + ' more groups not shown'));
    if (s.finished) {
      document.getElementById('verdict').hidden = false;
      var head = document.getElementById('verdict-head');
      head.textContent = 'node stopped'; head.className = 'verdict ' + (s.finished.exitCode === 0 ? 'unknown' : 'invalid');
      document.getElementById('verdict-lines').textContent = s.finished.verdict.join('\\n');
    }
  }
  liveConnect(pageData('live').events, render);
})();
`;
}
