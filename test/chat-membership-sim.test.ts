/**
 * Chat on a live member list (src/causal/membership.ts) under the simulator: causal broadcast composed with
 * SWIM, through loss, partitions and healing, a node that crashes for good and late joiners that know only one
 * seed. Once quiet, every live node, joiners included, has delivered every message (the history from before it
 * joined too), each origin's in order, and each exactly once. Under churn (members join, speak and leave in
 * turn) the clocks messages carry stay bounded by the live set plus a slack, and an origin membership never
 * reported is not delivered.
 */
import { COMPOSED_ADDRESS_BOOK, withAddressBook } from '../src/sim/address-book.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { causalOptions, type CausalOptions, type CausalOutput, type CausalRequest } from '../src/causal/causal-broadcast.js';
import { causalBroadcastAware, chatMembershipProtocol } from '../src/causal/membership.js';
import { lift } from '../src/causal/causal-broadcast.js';
import type { LiveOrigins } from '../src/causal/live-origins.js';
import type { VectorClock } from '../src/causal/vector-clock.js';
import { DEFAULT_SWIM_OPTIONS } from '../src/membership/index.js';
import { withMembership, type WithMembershipOptions, type WithMembershipRequest } from '../src/membership/compose.js';
import type { AnyProtocol, Protocol } from '../src/protocol/types.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { randomNetwork } from '../src/sim/network.js';
import { Simulation, testSeeds, withSeed } from '../src/sim/simulation.js';

type Req = WithMembershipRequest<CausalRequest>;
type Opts = WithMembershipOptions<CausalOptions>;

function run(seed: number, protocol: AnyProtocol): string[] {
  const prng = new Prng(seed);
  const statics = Array.from({ length: prng.int(3, 5) }, (_, i) => nodeId(`n${i + 1}`));
  const joiners = new Map<NodeId, number>(Array.from({ length: prng.int(1, 2) }, (_, i) => [nodeId(`j${i + 1}`), prng.int(500, 4000)] as const));
  const all = [...statics, ...joiners.keys()];
  const crashed = statics[1]!;
  const faults: Fault[] = randomFaultSchedule(prng.fork(), { nodes: all, fromMs: 0, toMs: 4000, healByMs: 5000, maxPartitions: 2, crashCount: 0, allowRestarts: false });
  faults.push({ kind: 'crash', atMs: 8000, node: crashed });
  const preset = seed % 2 === 0 ? 'latency' : 'messages';
  const start = (self: NodeId): readonly NodeId[] => (joiners.has(self) ? [self] : statics);
  const started = { ...protocol, init: (ctx: Parameters<AnyProtocol['init']>[0]) => protocol.init({ ...ctx, nodes: start(ctx.self) }) };
  // Sends only to members a node holds an address for, as the driver and transport let it.
  const p = withAddressBook(started, COMPOSED_ADDRESS_BOOK).protocol;
  const untilMs = 40_000;
  const sim = new Simulation(p as Protocol<unknown, unknown, CausalOutput, Opts, Req>, {
    seed,
    nodes: all,
    optionsFor: (node) => ({ swim: { ...DEFAULT_SWIM_OPTIONS, address: `${node}:7000` }, inner: causalOptions(preset, { gossip: { seed } }) }),
    network: randomNetwork(prng.fork(), { nodes: all, maxLossRate: 0.1 }),
    faults,
    untilMs,
    startAtMs: (node) => joiners.get(node) ?? 0,
  });
  const sent: string[] = [];
  for (const node of all) {
    const t0 = joiners.get(node) ?? 0;
    if (joiners.has(node)) sim.inject(t0 + 1, node, { kind: 'request', body: { membership: { op: 'join', seeds: [statics[0]!] } } });
    // The crashed node speaks well before it crashes; the others at any time until the faults are over.
    const times = Array.from({ length: prng.int(1, 3) }, () => (node === crashed ? prng.int(0, 3000) : t0 + prng.int(2, 5000))).sort((a, b) => a - b);
    for (const [k, at] of times.entries()) {
      const text = `${node}#${k}`;
      sent.push(text);
      sim.inject(at, node, { kind: 'request', body: { kind: 'broadcast', payload: text } });
    }
  }
  const delivered = new Map<NodeId, string[]>(all.map((n) => [n, []]));
  sim.onOutput((node, _at, out) => {
    if (typeof out === 'object' && out !== null && 'kind' in out && out.kind === 'deliver') delivered.get(node)!.push(String(out.payload));
  });
  sim.run();
  const problems: string[] = [];
  const expected = [...sent].sort();
  for (const node of all) {
    if (node === crashed) continue;
    const got = delivered.get(node)!;
    if (JSON.stringify([...got].sort()) !== JSON.stringify(expected)) problems.push(`${node} delivered ${JSON.stringify([...got].sort())}, expected ${JSON.stringify(expected)}`);
    // Each origin's messages in the order it sent them (k counts up).
    for (const origin of all) {
      const own = got.filter((m) => m.startsWith(`${origin}#`)).map((m) => Number(m.split('#')[1]));
      if (own.some((k, i) => i > 0 && k < own[i - 1]!)) problems.push(`${node} delivered ${origin}'s messages out of order: ${own.join(', ')}`);
    }
  }
  return problems.length === 0 ? [] : [`faults ${JSON.stringify(faults)}`, ...problems];
}

describe('chat on a live member list, under the simulator', () => {
  it('every live node, late joiners included, delivers every message once, each origin in order, through loss, partitions and a crash', () => {
    for (const seed of testSeeds(Number(process.env.CHAT_MEMBERSHIP_SEEDS ?? 12))) {
      withSeed(seed, 'chat on a live member list', () => assert.deepEqual(run(seed, chatMembershipProtocol), []));
    }
  });

  it('fails when a joiner is not linked (a mutation: the inner protocol ignores member changes)', () => {
    const deaf = withMembership({ ...causalBroadcastAware, onMembers: () => [] });
    for (const seed of testSeeds(2)) {
      withSeed(seed, 'the mutation', () => assert.ok(run(seed, deaf).some((p) => /^j\d delivered/.test(p))));
    }
  });
});

/** Joiners alive at once in the churn sweep: each stays CHURN_STAY_MS and one starts every CHURN_EVERY_MS. */
const CHURN_STAY_MS = 2500;
const CHURN_EVERY_MS = 2000;
const MAX_CONCURRENT_JOINERS = Math.ceil(CHURN_STAY_MS / CHURN_EVERY_MS);
/**
 * Entries a clock may carry beyond the live members: departed members whose final count a node has not carried
 * yet (a static speaks every ≤ 800 ms, so few depart between two of its lines), and a leaver seen late.
 */
const CHURN_CLOCK_SLACK = 2;
/** GossipToTheDeadTime in the churn sweep: short, so departed members are forgotten while the run goes on. */
const CHURN_FORGET_MS = 1500;

type Compact = LiveOrigins['compact'];

/** The churn sweep: the largest clock a message carried, and delivery problems at the static nodes. */
function churn(seed: number, withoutCompaction: boolean): { largest: number; bound: number; problems: string[] } {
  const prng = new Prng(seed);
  const statics = [nodeId('n1'), nodeId('n2'), nodeId('n3')];
  const joiners = new Map<NodeId, number>(Array.from({ length: 10 }, (_, i) => [nodeId(`j${i + 1}`), 1000 + i * CHURN_EVERY_MS + prng.int(0, 300)] as const));
  const churnEnd = 1000 + joiners.size * CHURN_EVERY_MS + CHURN_STAY_MS;
  // Joins once every churned member is forgotten (GossipToTheDeadTime below): it learns of them only from the
  // history, whose lines of live members depend on theirs.
  const late = nodeId('late');
  const lateAt = churnEnd + 2 * CHURN_FORGET_MS;
  const all = [...statics, ...joiners.keys(), late];
  const start = (self: NodeId): readonly NodeId[] => (joiners.has(self) || self === late ? [self] : statics);
  const aware = withoutCompaction
    ? {
        ...causalBroadcastAware,
        init: (ctx: Parameters<typeof causalBroadcastAware.init>[0]) => {
          const r = causalBroadcastAware.init(ctx);
          const origins = r.state.origins!; // set by causalBroadcastAware.init
          const compact: Compact = (full) => full;
          origins.compact = compact;
          return r;
        },
      }
    : causalBroadcastAware;
  const protocol = withMembership(aware) as AnyProtocol;
  const p = { ...protocol, init: (ctx: Parameters<AnyProtocol['init']>[0]) => protocol.init({ ...ctx, nodes: start(ctx.self) }) };
  const sim = new Simulation(p as Protocol<unknown, unknown, CausalOutput, Opts, Req>, {
    seed,
    nodes: all,
    optionsFor: (node) => ({
      swim: { ...DEFAULT_SWIM_OPTIONS, address: `${node}:7000`, gossipToTheDeadTimeMs: CHURN_FORGET_MS },
      inner: causalOptions(seed % 2 === 0 ? 'latency' : 'messages', { gossip: { seed } }),
    }),
    network: randomNetwork(prng.fork(), { nodes: all, maxLossRate: 0.05 }),
    faults: [],
    untilMs: lateAt + 15_000,
    startAtMs: (node) => (node === late ? lateAt : (joiners.get(node) ?? 0)),
  });
  const sent: string[] = [];
  const say = (at: number, node: NodeId, text: string): void => {
    sent.push(text);
    sim.inject(at, node, { kind: 'request', body: { kind: 'broadcast', payload: text } });
  };
  for (const [node, t0] of joiners) {
    sim.inject(t0 + 1, node, { kind: 'request', body: { membership: { op: 'join', seeds: [statics[0]!] } } });
    for (let k = 0; k < 2; k++) say(t0 + prng.int(300, 1500), node, `${node}#${k}`);
    sim.inject(t0 + CHURN_STAY_MS, node, { kind: 'request', body: { membership: { op: 'leave' } } });
  }
  sim.inject(lateAt + 1, late, { kind: 'request', body: { membership: { op: 'join', seeds: [statics[0]!] } } });
  for (const node of statics) for (let at = prng.int(0, 800), k = 0; at < churnEnd; at += prng.int(400, 800), k++) say(at, node, `${node}#${k}`);
  let largest = 0;
  const delivered = new Map<NodeId, string[]>(all.map((n) => [n, []]));
  // A line's causal past: what its origin had delivered when it spoke (no client clocks here, so that is all).
  const before = new Map<string, readonly string[]>();
  sim.onOutput((node, _at, out) => {
    if (typeof out !== 'object' || out === null || !('kind' in out)) return;
    if (out.kind === 'accepted') largest = Math.max(largest, (out.clock as VectorClock).size);
    if (out.kind !== 'deliver') return;
    const got = delivered.get(node)!;
    if (out.origin === node) before.set(String(out.payload), [...got]);
    got.push(String(out.payload));
  });
  sim.run();
  const problems: string[] = [];
  const expected = JSON.stringify([...sent].sort());
  for (const node of [...statics, late]) {
    const got = delivered.get(node)!;
    if (JSON.stringify([...got].sort()) !== expected) problems.push(`${node} delivered ${got.length} of ${sent.length} messages (or some twice)`);
  }
  // Causal order at every node, leavers included: a line only after every line in its causal past.
  for (const [node, got] of delivered) {
    const at = new Map(got.map((text, i) => [text, i] as const));
    for (const [i, text] of got.entries()) {
      const late = (before.get(text) ?? []).find((dep) => (at.get(dep) ?? -1) > i || !at.has(dep));
      if (late !== undefined) problems.push(`${node} delivered ${text} before (or without) ${late}, which it depends on`);
    }
  }
  return { largest, bound: statics.length + MAX_CONCURRENT_JOINERS + CHURN_CLOCK_SLACK, problems };
}

describe('chat clocks under churn, and origins membership never reported', () => {
  it('the clocks messages carry stay bounded by the live set plus a slack while members join and leave in turn', () => {
    for (const seed of testSeeds(Number(process.env.CHAT_CHURN_SEEDS ?? 4))) {
      withSeed(seed, 'chat churn', () => {
        const { largest, bound, problems } = churn(seed, false);
        assert.deepEqual(problems, []);
        assert.ok(largest <= bound, `a message carried a clock of ${largest} entries, bound ${bound}`);
      });
    }
  });

  it('fails without compaction (a mutation: every message carries every origin ever delivered)', () => {
    for (const seed of testSeeds(1)) {
      withSeed(seed, 'the mutation', () => {
        const { largest, bound } = churn(seed, true);
        assert.ok(largest > bound, `without compaction the largest clock was ${largest}, within the bound ${bound}`);
      });
    }
  });

  it('a message of an origin membership never reported is not delivered; a joiner reported late is', () => {
    const [n1, n2, j1, zz] = [nodeId('n1'), nodeId('n2'), nodeId('j1'), nodeId('zz')];
    const { state } = causalBroadcastAware.init({ self: n1, nodes: [n1, n2], options: causalOptions('latency'), now: 0, startedAtMs: 0, restored: new Map() });
    const arrive = (origin: NodeId, text: string) =>
      lift(state, [{ kind: 'output', value: { kind: 'deliver', origin, replica: origin, seq: 1, payload: [[[origin, 1]], text] } }]);
    const deliveredIn = (effects: readonly { kind: string; value?: unknown }[]): string[] =>
      effects.flatMap((e) => (e.kind === 'output' && (e.value as CausalOutput).kind === 'deliver' ? [String((e.value as { payload: unknown }).payload)] : []));
    assert.deepEqual(deliveredIn(arrive(zz, 'forged')), []);
    assert.deepEqual(deliveredIn(arrive(j1, 'hello from a joiner')), []);
    causalBroadcastAware.invariants(state);
    // Membership reports the joiner (and never zz): the joiner's line, held meanwhile, is delivered; zz's is not.
    assert.deepEqual(deliveredIn(causalBroadcastAware.onMembers(state, [j1, n1, n2], 10)), ['hello from a joiner']);
    assert.deepEqual(deliveredIn(causalBroadcastAware.onMemberStates!(state, [n1, n2, j1].map((id) => ({ id, address: '', incarnation: 0, state: 'alive' as const })), 10)), []);
    assert.equal(state.origins!.unadmittedCount, 1); // zz's line, still waiting within MAX_UNADMITTED
  });
});
