/**
 * The key-range model's invariants (Topology.checkInvariants, GroupState.checkInvariants) fail on states broken by
 * hand, and the ranges protocol's `invariants` reaches them through delta-sync, first check and every
 * VALUE_CHECK_STRIDE-th after. States that operations reach pass them: the simulator checks that in every run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AssertionError } from '../src/core/assert.js';
import { nodeId } from '../src/core/ids.js';
import type { Registration, Subrange } from '../src/ranges/topology.js';
import { GroupState, Topology, registrationKey } from '../src/ranges/index.js';
import { RANGES_DEFAULTS, rangesProtocol, rangesSyncOptions } from '../src/ranges/protocol.js';
import { VALUE_CHECK_STRIDE } from '../src/replication/delta-sync/protocol.js';

const reg = (node: string, start: number, end: number, priority = 1): Registration => ({ node, start, end, priority, meta: null });

/** A topology with its subranges replaced (its lookup index follows them unless `index` says otherwise). */
function forged(subranges: Subrange[], index = subranges.map((s) => s.start)): Topology {
  const t = Topology.derive([reg('a', 0, 1)]);
  Object.assign(t, { subranges, starts: index });
  return t;
}

function fails(what: string, check: () => void, message: RegExp): void {
  assert.throws(check, (e: unknown) => e instanceof AssertionError && message.test(e.message), what);
}

describe('key-range invariants', () => {
  test('a topology: sorted disjoint subranges, distinct nodes in serving order, each covering its subrange', () => {
    const good = Topology.derive([reg('a', 0, 100, 2), reg('b', 50, 150), reg('c', 200, 300)]);
    good.checkInvariants();
    const [first, second] = good.subranges as [Subrange, Subrange];

    fails('overlapping', () => forged([first, { ...second, start: first.end - 1 }]).checkInvariants(), /overlapping/);
    fails('out of order', () => forged([second, first]).checkInvariants(), /out of order/);
    fails('empty', () => forged([{ start: 5, end: 5, nodes: first.nodes }]).checkInvariants(), /non-empty range/);
    fails('nobody serves it', () => forged([{ ...first, nodes: [] }]).checkInvariants(), /nobody serves/);
    fails('a node twice', () => forged([{ start: 50, end: 100, nodes: [reg('a', 0, 100), reg('a', 50, 100)] }]).checkInvariants(), /twice/);
    fails('serving order', () => forged([{ start: 50, end: 100, nodes: [reg('b', 50, 150), reg('a', 0, 100, 2)] }]).checkInvariants(), /serving order/);
    fails('not covered', () => forged([{ start: 0, end: 100, nodes: [reg('b', 50, 150)] }]).checkInvariants(), /does not cover/);
    fails('the lookup index', () => forged([first, second], [first.start, second.start + 1]).checkInvariants(), /out of step/);
  });

  test('a group state: the CRDT, the shape of its keys and dots, and its cached topologies', () => {
    const state = new GroupState();
    state.join('n1', 'g');
    state.register('n1', 'g', 0, 100, { port: 1 });
    state.lookup('g', 5); // caches the topology
    state.checkInvariants();

    // A registration written under another node's replica: refused as input, so never in a state.
    const forgedDot = state.clone();
    forgedDot.crdt.update('g', (g) => g.update('registrations', (r) => r.add('n2', registrationKey('n1', 100, 200))));
    fails('a dot of another node', () => forgedDot.checkInvariants(), /ranges: a registration of "n1" written by "n2"/);

    // A write behind the cache's back: the cached topology no longer says what the registrations do.
    const stale = new GroupState();
    stale.join('n1', 'g');
    stale.register('n1', 'g', 0, 100);
    stale.lookup('g', 5);
    stale.crdt.update('g', (g) => g.update('registrations', (r) => r.add('n1', registrationKey('n1', 100, 200))));
    fails('a stale cached topology', () => stale.checkInvariants(), /cached topology differs/);

    // The CRDT's own invariants are part of it.
    const broken = state.clone();
    (broken.crdt.context as unknown as { vv: Map<string, number> }).vv.set('n9', 0);
    fails('the CRDT', () => broken.checkInvariants(), /causal context/);
  });

  test("the ranges protocol checks its value's invariants through delta-sync", () => {
    const n1 = nodeId('n1');
    const { state } = rangesProtocol.init({ self: n1, nodes: [n1, nodeId('n2')], options: rangesSyncOptions(RANGES_DEFAULTS), now: 0, startedAtMs: 0, restored: new Map() });
    rangesProtocol.invariants(state); // the first check includes the value
    (state.value.crdt.context as unknown as { vv: Map<string, number> }).vv.set('n9', 0);
    // Then every VALUE_CHECK_STRIDE-th: the corruption is caught within that many checks.
    let caught = 0;
    for (let k = 1; k <= VALUE_CHECK_STRIDE; k++) {
      try {
        rangesProtocol.invariants(state);
      } catch (e) {
        assert.ok(e instanceof AssertionError && /causal context/.test(e.message));
        caught = k;
        break;
      }
    }
    assert.equal(caught, VALUE_CHECK_STRIDE);
  });
});
