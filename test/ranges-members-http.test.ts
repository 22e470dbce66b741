/** The cluster-members and forget routes of a ranges node's API, and their client subcommands (pure). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClientArgv } from '../src/cli/ranges-command.js';
import { routeRangesHttp } from '../src/runtime/ranges-http.js';

const json = 'application/json';

describe("the API's cluster members and forget", () => {
  it('routes GET /members and POST /members/:node/forget to their requests', () => {
    assert.deepEqual(routeRangesHttp({ method: 'GET', url: '/members', contentType: undefined, body: '' }), { ok: true, call: { op: 'cluster-members' } });
    assert.deepEqual(routeRangesHttp({ method: 'POST', url: '/members/n%202/forget', contentType: json, body: '' }), { ok: true, call: { op: 'forget', node: 'n 2' } });
  });

  it('refuses other methods, a query, an empty node and unknown paths under /members', () => {
    const status = (method: string, url: string): number | 'ok' => {
      const routed = routeRangesHttp({ method, url, contentType: json, body: '' });
      return routed.ok ? 'ok' : routed.error.status;
    };
    assert.equal(status('POST', '/members'), 405);
    assert.equal(status('GET', '/members/n1/forget'), 405);
    assert.equal(status('GET', '/members?x=1'), 400);
    assert.equal(status('POST', '/members//forget'), 400);
    assert.equal(status('POST', '/members/n1/remember'), 404);
  });

  it('builds the nodes and forget subcommands', () => {
    assert.deepEqual(parseClientArgv(['nodes']).call, { method: 'GET', path: '/members', prints: true });
    assert.deepEqual(parseClientArgv(['forget', 'n/3']).call, { method: 'POST', path: '/members/n%2F3/forget', prints: true });
  });
});
