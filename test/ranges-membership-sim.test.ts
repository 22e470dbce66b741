/**
 * Key ranges on a live member list (src/ranges/membership.ts) under the simulator: key-range nodes composed with
 * SWIM, through loss, partitions and healing, crashes and restarts, late joiners that know only one seed, a
 * node that crashes for good and one that leaves. Judged once the network is quiet.
 */
import { COMPOSED_ADDRESS_BOOK, withAddressBook } from '../src/sim/address-book.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { DEFAULT_SWIM_OPTIONS } from '../src/membership/index.js';
import { withMembership, type WithMembershipOptions, type WithMembershipRequest } from '../src/membership/compose.js';
import type { AnyProtocol, Protocol } from '../src/protocol/types.js';
import { rangesProtocolAware } from '../src/ranges/membership.js';
import { rangesSyncOptions, type RangesReply, type RangesRequest } from '../src/ranges/protocol.js';
import { KEY_SPACE_SIZE } from '../src/ranges/key-space.js';
import type { SyncOptions } from '../src/replication/delta-sync.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { perfectNetwork, randomNetwork, type NetworkModel } from '../src/sim/network.js';
import { Simulation, testSeeds, withSeed } from '../src/sim/simulation.js';

type Req = WithMembershipRequest<RangesRequest>;
type Opts = WithMembershipOptions<SyncOptions>;
type Sim = Simulation<unknown, unknown, unknown, Opts, Req>;

const composed = withMembership(rangesProtocolAware);

/** The protocol with `init` seeing `startNodes(self)` as the cluster: a late joiner knows only itself. */
function startingWith<P extends AnyProtocol>(protocol: P, startNodes: (self: NodeId) => readonly NodeId[]): P {
  return { ...protocol, init: (ctx) => protocol.init({ ...ctx, nodes: startNodes(ctx.self) }) };
}

interface Cluster {
  readonly statics: readonly NodeId[];
  readonly joiners: ReadonlyMap<NodeId, number>;
  readonly seed: NodeId;
}

function simulate(seed: number, protocol: AnyProtocol, cluster: Cluster, faults: readonly Fault[], untilMs: number, network: NetworkModel): Sim {
  const nodes = [...cluster.statics, ...cluster.joiners.keys()];
  // Sends only to members a node holds an address for, as the driver and transport let it.
  const p = withAddressBook(startingWith(protocol, (self) => (cluster.joiners.has(self) ? [self] : cluster.statics)), COMPOSED_ADDRESS_BOOK).protocol;
  return new Simulation(p as Protocol<unknown, unknown, unknown, Opts, Req>, {
    seed,
    nodes,
    // Push/pull every 5 s, not memberlist's 30: a node restarted from its static list hears of a joiner that
    // nobody gossips about any more only through push/pull, and the run should not need minutes of virtual time.
    optionsFor: (node) => ({ swim: { ...DEFAULT_SWIM_OPTIONS, pushPullIntervalMs: 5000, address: `${node}:7000` }, inner: rangesSyncOptions({ fanout: 2, intervalMs: 100, seed }) }),
    network,
    faults,
    untilMs,
    startAtMs: (node) => cluster.joiners.get(node) ?? 0,
  }) as Sim;
}

type Lookup = { position: number; nodes: Array<{ node: string; start: number; end: number; state: string }> };
type Sub = { start: number; end: number; nodes: Array<{ node: string; state: string }> };
type ClusterMember = { node: string; state: string };

interface Answers {
  readonly topology: Sub[];
  readonly lookups: Lookup[];
  readonly members: ClusterMember[];
  /** Not compared: see `members`. */
  readonly dead: string[];
}

/**
 * A registration's node state as compared between nodes: exact, but for `suspect`, which reads as `alive` (a live
 * member all the same: over a lossy network some probe is always missing somewhere, so a suspicion that is refuted
 * a moment later can be caught by any read). A node this node never knew reads `dead` in the protocol itself.
 */
function settled<R extends { state: string }>(r: R): R {
  return r.state === 'suspect' ? { ...r, state: 'alive' } : r;
}

/** Every node's answers to the same reads at `atMs`: the topology of g, lookups of `keys`, the cluster's members. */
function readAll(sim: Sim, atMs: number, nodes: readonly NodeId[], keys: readonly (string | number)[]): () => Map<NodeId, Answers> {
  const replies = new Map<number, RangesReply>();
  const asked: Array<{ node: NodeId; topology: number; lookups: number[]; members: number }> = [];
  let id = 1_000_000;
  for (const node of nodes) {
    const entry = { node, topology: id++, lookups: keys.map(() => id++), members: id++ };
    asked.push(entry);
    sim.inject(atMs, node, { kind: 'request', body: { id: entry.topology, op: 'topology', group: 'g' } });
    keys.forEach((key, k) => sim.inject(atMs, node, { kind: 'request', body: { id: entry.lookups[k]!, op: 'lookup', group: 'g', key } }));
    sim.inject(atMs, node, { kind: 'request', body: { id: entry.members, op: 'cluster-members' } });
  }
  sim.onOutput((_node, _at, out) => {
    const reply = out as RangesReply;
    if (typeof reply === 'object' && reply !== null && 'ok' in reply && reply.id >= 1_000_000) replies.set(reply.id, reply);
  });
  const result = (rid: number): unknown => {
    const reply = replies.get(rid);
    assert.ok(reply !== undefined, `no reply to read ${rid}`);
    assert.ok(reply.ok, `read ${rid} failed: ${JSON.stringify(reply)}`);
    return reply.result;
  };
  return () =>
    new Map(
      asked.map((a) => [
        a.node,
        {
          topology: (result(a.topology) as Sub[]).map((s) => ({ ...s, nodes: s.nodes.map(settled) })),
          lookups: a.lookups.map((rid) => result(rid) as Lookup).map((l) => ({ ...l, nodes: l.nodes.map(settled) })),
          // Addresses and incarnations may lag on a node that heard of a member only second-hand, and dead and
          // left members are forgotten GossipToTheDeadTime after they went, at different times on each node:
          // the live members are what every node must agree on.
          members: (result(a.members) as ClusterMember[]).filter((m) => m.state === 'alive' || m.state === 'suspect').map((m) => settled({ node: m.node, state: m.state })),
          dead: (result(a.members) as ClusterMember[]).filter((m) => m.state === 'dead').map((m) => m.node),
        },
      ]),
    );
}

interface Outcome {
  readonly problems: string[];
}

/**
 * One seeded run: statics n1..nK (n1 the seed every joiner contacts), joiners j1..jM started late with only
 * themselves, a node crashed for good, a node that leaves gracefully, and random partitions (healed) and a
 * crash with restart, over a lossy network. What must hold once quiet is returned as a list of problems.
 */
function scenario(seed: number, protocol: AnyProtocol): Outcome {
  const prng = new Prng(seed);
  const statics = Array.from({ length: prng.int(4, 6) }, (_, i) => nodeId(`n${i + 1}`));
  const joiners = new Map<NodeId, number>(Array.from({ length: prng.int(1, 2) }, (_, i) => [nodeId(`j${i + 1}`), prng.int(500, 3000)] as const));
  const cluster: Cluster = { statics, joiners, seed: statics[0]! };
  const crashed = statics[1]!;
  const leaver = statics[2]!;
  const all = [...statics, ...joiners.keys()];
  // Partitions and pauses long enough, at times, for SWIM to declare live nodes dead on the other side (links
  // dropped, then made again once they refute), all healed before the crash and the leave judged below.
  const faults: Fault[] = randomFaultSchedule(prng.fork(), {
    nodes: all,
    fromMs: 0,
    toMs: 4000,
    healByMs: prng.chance(0.5) ? 5000 : 12_000,
    maxPartitions: 2,
    crashCount: 0,
    allowRestarts: false,
    maxPauses: 2,
    pauseLengthMs: { minMs: 1000, maxMs: 3000 },
  });
  // One crash with restart, of a node that is neither the seed nor the two judged below.
  const restartable = all.filter((n) => n !== cluster.seed && n !== crashed && n !== leaver);
  const restarted = restartable[prng.int(0, restartable.length - 1)]!;
  const crashAt = Math.max(joiners.get(restarted) ?? 0, 1000) + prng.int(500, 2500);
  const restartAt = crashAt + prng.int(300, 2000);
  const losesStore = prng.chance(0.3);
  faults.push({ kind: 'crash', atMs: crashAt, node: restarted, restartAtMs: restartAt, ...(losesStore ? { loseDurableState: true } : {}) });
  faults.push({ kind: 'crash', atMs: 13_000, node: crashed });
  const untilMs = 45_000;
  const sim = simulate(seed, protocol, cluster, faults, untilMs, randomNetwork(prng.fork(), { nodes: all, maxLossRate: 0.1 }));

  let id = 1;
  const send = (atMs: number, node: NodeId, body: Req): void => sim.inject(atMs, node, { kind: 'request', body });
  const ranges = new Map<NodeId, Array<[number, number]>>();
  for (const node of all) {
    const t0 = (joiners.get(node) ?? 0) + 1;
    if (joiners.has(node)) send(t0, node, { membership: { op: 'join', seeds: [cluster.seed] } });
    // A restarted joiner knows only itself again, as a process started with --join: it joins again.
    if (node === restarted && joiners.has(node)) send(restartAt + 1, node, { membership: { op: 'join', seeds: [cluster.seed] } });
    send(t0 + 10, node, { id: id++, op: 'join', group: 'g' });
    const held: Array<[number, number]> = [];
    for (let k = prng.int(1, 2); k > 0; k--) {
      const start = prng.int(0, 1000) * 1_000_000;
      const end = Math.min(KEY_SPACE_SIZE, start + prng.int(1, 2000) * 1_000_000);
      send(t0 + 20 + k, node, { id: id++, op: 'register', group: 'g', start, end, meta: { port: 4000 + k } });
      held.push([start, end]);
    }
    ranges.set(node, held);
  }
  send(16_000, leaver, { membership: { op: 'leave' } });

  const live = all.filter((n) => n !== crashed && n !== leaver);
  const keys: Array<string | number> = ['alice', 'bob', 0, KEY_SPACE_SIZE - 1];
  for (const held of ranges.values()) for (const [start, end] of held) keys.push(start, Math.floor((start + end) / 2), end - 1);
  const answers = readAll(sim, untilMs - 1000, live, keys);
  sim.run();
  const byNode = answers();
  const problems: string[] = [];
  const compared = (a: Answers): string => JSON.stringify({ ...a, dead: undefined });
  const reference = compared(byNode.get(live[0]!)!);
  for (const [node, a] of byNode) {
    const mine = compared(a);
    if (mine === reference) continue;
    // Where the answers part, with some context before it.
    let k = 0;
    while (mine[k] === reference[k]) k++;
    const from = Math.max(0, k - 300);
    problems.push(`${node} answers differently from ${live[0]} at character ${k}:\n  …${mine.slice(from, k + 300)}\n  …${reference.slice(from, k + 300)}`);
  }
  const a = byNode.get(live[0]!)!;
  const served = a.topology.flatMap((s) => s.nodes);
  const stateIn = (node: NodeId): string | undefined => (a.dead.includes(node) ? 'dead' : a.members.find((m) => m.node === node)?.state);
  // The seed knew every node alive, and nothing is forgotten yet at the read (GossipToTheDeadTime after death).
  if (stateIn(crashed) !== 'dead') problems.push(`the crashed ${crashed} is ${stateIn(crashed)} on ${live[0]}, not dead`);
  if (!served.some((r) => r.node === crashed)) problems.push(`the crashed ${crashed}'s registrations are gone`);
  for (const r of served) if (r.node === crashed && r.state !== 'dead') problems.push(`${crashed}'s registration is served by a node marked ${r.state}`);
  if (a.members.some((m) => m.node === leaver)) problems.push(`the leaver ${leaver} is still a live member`);
  if (served.some((r) => r.node === leaver)) problems.push(`the leaver ${leaver}'s registrations are still served`);
  for (const node of live) {
    if (stateIn(node) !== 'alive') problems.push(`live ${node} is ${stateIn(node)}`);
    // A node whose store a crash lost may have lost writes that had not left it yet (all nodes still agree).
    if (!served.some((r) => r.node === node) && !(node === restarted && losesStore)) problems.push(`${node}'s registrations are missing`);
  }
  return { problems: problems.length === 0 ? [] : [`faults ${JSON.stringify(faults)}`, ...problems] };
}

describe('key ranges on a live member list, under the simulator', () => {
  it('with loss, partitions, crashes, restarts and late joiners: once quiet every live node answers every lookup identically, has the joiners\' registrations, shows the crashed node dead and its registrations as served by a dead node, and serves nothing of the node that left', () => {
    for (const seed of testSeeds(Number(process.env.RANGES_MEMBERSHIP_SEEDS ?? 16))) {
      withSeed(seed, 'ranges on a live member list', () => {
        const { problems } = scenario(seed, composed);
        assert.deepEqual(problems, []);
      });
    }
  });

  it('fails when a joiner is not given the state (a mutation: the inner protocol ignores member changes)', () => {
    const deaf = withMembership({ ...rangesProtocolAware, onMembers: () => [] });
    for (const seed of testSeeds(3)) {
      withSeed(seed, 'the mutation', () => {
        const { problems } = scenario(seed, deaf);
        assert.ok(problems.some((p) => /^j\d answers differently/.test(p)), `a joiner's answers should differ:\n${problems.join('\n')}`);
      });
    }
  });

  it('a node that joins after another was declared dead answers every lookup as the others do, states included (dead, not unknown), and may forget it', () => {
    for (const seed of testSeeds(4)) {
      withSeed(seed, 'join after a death', () => {
        const prng = new Prng(seed);
        const statics = [nodeId('n1'), nodeId('n2'), nodeId('n3'), nodeId('n4')];
        const gone = statics[2]!;
        const joiner = nodeId('j1');
        // n3 crashes for good; j1 starts once every static node has declared it dead (SWIM's suspicion
        // timeout at 4 nodes is a few seconds) but before it is forgotten, so the seed's push/pull tells j1 of
        // a dead node it never knew, which SWIM ignores.
        const joinAt = 12_000 + prng.int(0, 3000);
        const untilMs = 30_000;
        const sim = simulate(seed, composed, { statics, joiners: new Map([[joiner, joinAt]]), seed: statics[0]! }, [{ kind: 'crash', atMs: 2000, node: gone }], untilMs, perfectNetwork(prng.int(1, 10)));
        const send = (atMs: number, node: NodeId, body: Req): void => sim.inject(atMs, node, { kind: 'request', body });
        const keys: number[] = [];
        let id = 1;
        for (const [k, node] of statics.entries()) {
          const start = prng.int(0, 1000) * 1_000_000;
          send(10, node, { id: id++, op: 'join', group: 'g' });
          send(20, node, { id: id++, op: 'register', group: 'g', start, end: start + 1_000_000 * (k + 1) });
          keys.push(start, start + 1_000_000 * (k + 1) - 1);
        }
        send(joinAt + 1, joiner, { membership: { op: 'join', seeds: [statics[0]!] } });
        const live = [statics[0]!, statics[1]!, statics[3]!, joiner];
        const answers = readAll(sim, untilMs - 1000, live, keys);
        // After the reads: the joiner, which never knew n3, may release its registrations.
        const FORGET_ID = 999;
        let forgot: RangesReply | undefined;
        sim.onOutput((_n, _t, out) => {
          if (typeof out === 'object' && out !== null && (out as RangesReply).id === FORGET_ID) forgot = out as RangesReply;
        });
        send(untilMs - 500, joiner, { id: FORGET_ID, op: 'forget', node: gone });
        sim.run();
        const byNode = answers();
        const reference = byNode.get(statics[0]!)!;
        const goneStates = reference.topology.flatMap((s) => s.nodes).filter((r) => r.node === gone).map((r) => r.state);
        assert.deepEqual(goneStates, ['dead'], `${gone}'s registration on ${statics[0]}`);
        assert.ok(reference.dead.includes(gone), `${gone} is dead in ${statics[0]}'s members`);
        for (const node of live) {
          const a = byNode.get(node)!;
          assert.deepEqual({ topology: a.topology, lookups: a.lookups }, { topology: reference.topology, lookups: reference.lookups }, `${node} answers as ${statics[0]} does`);
          assert.deepEqual(a.members, reference.members, `${node}'s live members`);
        }
        assert.deepEqual(forgot, { id: FORGET_ID, ok: true, result: { node: gone, released: 1 } }, `${joiner} forgets ${gone}`);
      });
    }
  });

  it('a dead node that comes back with its id and data dir serves its registrations again, alive', () => {
    const statics = [nodeId('n1'), nodeId('n2'), nodeId('n3')];
    const sim = simulate(3, composed, { statics, joiners: new Map(), seed: statics[0]! }, [{ kind: 'crash', atMs: 2000, node: statics[2]!, restartAtMs: 20_000 }], 40_000, perfectNetwork(5));
    const replies = new Map<number, RangesReply>();
    sim.onOutput((_n, _t, out) => {
      const r = out as RangesReply;
      if (typeof r === 'object' && r !== null && 'ok' in r) replies.set(r.id, r);
    });
    const send = (atMs: number, node: NodeId, body: Req): void => sim.inject(atMs, node, { kind: 'request', body });
    send(10, statics[2]!, { id: 1, op: 'join', group: 'g' });
    send(20, statics[2]!, { id: 2, op: 'register', group: 'g', start: 0, end: 100 });
    send(15_000, statics[0]!, { id: 3, op: 'lookup', group: 'g', key: 50 });
    send(39_000, statics[0]!, { id: 4, op: 'lookup', group: 'g', key: 50 });
    sim.run();
    const nodesOf = (id: number) => (replies.get(id) as { result: Lookup }).result.nodes.map((r) => [r.node, r.state]);
    assert.deepEqual(nodesOf(3), [['n3', 'dead']], 'while it is down: served by a dead node');
    assert.deepEqual(nodesOf(4), [['n3', 'alive']], 'back: the same registration, alive');
  });

  it('forget releases a dead node\'s registrations everywhere, and is refused for a live one', () => {
    const statics = [nodeId('n1'), nodeId('n2'), nodeId('n3')];
    const sim = simulate(7, composed, { statics, joiners: new Map(), seed: statics[0]! }, [{ kind: 'crash', atMs: 2000, node: statics[2]! }], 30_000, perfectNetwork(5));
    const replies = new Map<number, RangesReply>();
    sim.onOutput((_n, _t, out) => {
      const r = out as RangesReply;
      if (typeof r === 'object' && r !== null && 'ok' in r) replies.set(r.id, r);
    });
    const send = (atMs: number, node: NodeId, body: Req): void => sim.inject(atMs, node, { kind: 'request', body });
    for (const [k, node] of statics.entries()) {
      send(10, node, { id: 10 + k, op: 'join', group: 'g' });
      send(20, node, { id: 20 + k, op: 'register', group: 'g', start: k * 100, end: k * 100 + 100 });
    }
    send(1000, statics[0]!, { id: 1, op: 'forget', node: statics[2]! }); // alive then: refused
    send(20_000, statics[0]!, { id: 2, op: 'forget', node: statics[2]! }); // dead by now
    send(25_000, statics[1]!, { id: 3, op: 'lookup', group: 'g', key: 250 });
    send(25_000, statics[1]!, { id: 4, op: 'lookup', group: 'g', key: 150 });
    sim.run();
    const r1 = replies.get(1)!;
    assert.ok(!r1.ok && r1.error.code === 'not-dead', JSON.stringify(r1));
    assert.deepEqual(replies.get(2), { id: 2, ok: true, result: { node: 'n3', released: 1 } });
    assert.deepEqual((replies.get(3) as { result: Lookup }).result.nodes, []);
    assert.deepEqual(
      (replies.get(4) as { result: Lookup }).result.nodes.map((r) => [r.node, r.state]),
      [['n2', 'alive']],
    );
  });
});
