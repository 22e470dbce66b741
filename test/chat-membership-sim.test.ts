/**
 * Chat on a live member list (src/causal/membership.ts) under the simulator: causal broadcast composed with
 * SWIM, through loss, partitions and healing, a node that crashes for good and late joiners that know only one
 * seed. Once quiet, every live node, joiners included, has delivered every message (the history from before it
 * joined too), each origin's in order, and each exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { causalOptions, type CausalOptions, type CausalOutput, type CausalRequest } from '../src/causal/causal-broadcast.js';
import { causalBroadcastAware, chatMembershipProtocol } from '../src/causal/membership.js';
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
  const p = { ...protocol, init: (ctx: Parameters<AnyProtocol['init']>[0]) => protocol.init({ ...ctx, nodes: start(ctx.self) }) };
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
