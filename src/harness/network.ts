/**
 * The harness's network model and nemesis, pure given a Prng.
 *
 * Latency (maelstrom.net, doc/03-broadcast/02-performance.md): `--latency` delays every server-to-server message;
 * client requests and replies are not delayed (Maelstrom's docs: "wait about ten milliseconds before delivering
 * each (inter-server) message"). `constant` delays by the mean, `uniform` draws from [0, 2·mean], `exponential`
 * from an exponential distribution with that mean, so the last two reorder messages as Maelstrom's network does.
 * The draws are the simulator's latency models (`latencyModel`), so the two networks cannot drift apart.
 *
 * Partitions (Jepsen's partition nemesis, which Maelstrom uses): a grudge says which messages each node drops;
 * only server-to-server messages are affected, and a message is dropped when a grudge separates its ends at the
 * moment it would be delivered. The shapes are Jepsen's partition targets that make sense for the node count:
 * `one` (isolate a node), `minority-third` (isolate fewer than a third), `majority` (a random majority and the
 * rest), `majorities-ring` (every node sees a majority, no two the same one).
 */
import type { Prng } from '../core/prng.js';
import { drawLatencyMs, type LatencyModel } from '../sim/network.js';
import type { LatencyDist } from './types.js';

/**
 * Exponential draws are capped at this many means: the simulator's model needs a cap, and the chance of reaching
 * it (e^-50) is nil, so the distribution is Maelstrom's.
 */
const EXPONENTIAL_CAP_MEANS = 50;

/** Maelstrom's latency flags as one of the simulator's latency models (../../sim/network.ts): one network model. */
export function latencyModel(meanMs: number, dist: LatencyDist): LatencyModel {
  if (meanMs <= 0) return { kind: 'fixed', ms: 0 };
  switch (dist) {
    case 'constant':
      return { kind: 'fixed', ms: meanMs };
    case 'uniform':
      return { kind: 'uniform', minMs: 0, maxMs: 2 * meanMs };
    case 'exponential':
      return { kind: 'exponential', minMs: 0, meanExtraMs: meanMs, maxMs: EXPONENTIAL_CAP_MEANS * meanMs };
  }
}

export function sampleLatencyMs(prng: Prng, meanMs: number, dist: LatencyDist): number {
  return drawLatencyMs(prng, latencyModel(meanMs, dist));
}

export type PartitionKind = 'one' | 'minority-third' | 'majority' | 'majorities-ring';

export interface Partition {
  readonly kind: PartitionKind;
  /** For each destination, the sources whose messages it drops. */
  readonly grudge: ReadonlyMap<string, ReadonlySet<string>>;
  readonly description: string;
}

/** Whether a message from `src` to `dest` is dropped under `partition`. */
export function cuts(partition: Partition | undefined, src: string, dest: string): boolean {
  return partition?.grudge.get(dest)?.has(src) ?? false;
}

/** Jepsen's util/minority-third: the largest integer strictly below n/3. */
function minorityThird(n: number): number {
  return Math.ceil(n / 3) - 1;
}

/** The radius of a ring window that is a majority but not everyone, or undefined when there is none. */
function ringRadius(n: number): number | undefined {
  const majority = Math.floor(n / 2) + 1;
  const radius = Math.ceil((majority - 1) / 2);
  return 2 * radius + 1 < n ? radius : undefined;
}

/** The partition kinds that cut at least one link in a cluster of n nodes. */
export function partitionKinds(n: number): PartitionKind[] {
  if (n < 2) return [];
  const kinds: PartitionKind[] = ['one'];
  if (n >= 3) kinds.push('majority');
  if (minorityThird(n) >= 1) kinds.push('minority-third');
  if (ringRadius(n) !== undefined) kinds.push('majorities-ring');
  return kinds;
}

function shuffled(prng: Prng, items: readonly string[]): string[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out;
}

/** Complete grudge between groups: nobody hears anyone outside their own group. */
function groupsGrudge(nodes: readonly string[], groups: readonly (readonly string[])[]): Map<string, Set<string>> {
  const groupOf = new Map<string, number>();
  groups.forEach((g, i) => g.forEach((n) => groupOf.set(n, i)));
  return new Map(nodes.map((dest) => [dest, new Set(nodes.filter((src) => groupOf.get(src) !== groupOf.get(dest)))]));
}

function groupsText(groups: readonly (readonly string[])[]): string {
  return groups.map((g) => `[${[...g].sort(compareNodes).join(' ')}]`).join(' | ');
}

/** n2 < n10: node names compare by their number when both have one. */
export function compareNodes(a: string, b: string): number {
  const na = /^n(\d+)$/.exec(a);
  const nb = /^n(\d+)$/.exec(b);
  if (na !== null && nb !== null) return Number(na[1]) - Number(nb[1]);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function makePartition(kind: PartitionKind, prng: Prng, nodes: readonly string[]): Partition {
  const order = shuffled(prng, nodes);
  const n = nodes.length;
  if (kind === 'majorities-ring') {
    const radius = ringRadius(n) ?? 0;
    const visible = new Map<string, Set<string>>();
    order.forEach((node, i) => {
      const sees = new Set<string>();
      for (let d = -radius; d <= radius; d++) sees.add(order[(i + d + n) % n] as string);
      visible.set(node, sees);
    });
    const grudge = new Map(nodes.map((dest) => [dest, new Set(nodes.filter((src) => !(visible.get(dest) as Set<string>).has(src)))]));
    return { kind, grudge, description: `ring ${order.join(' ')}, each node hears the ${2 * radius + 1} nearest` };
  }
  const cut = kind === 'one' ? 1 : kind === 'minority-third' ? minorityThird(n) : n - (Math.floor(n / 2) + 1);
  const groups = [order.slice(0, cut), order.slice(cut)];
  return { kind, grudge: groupsGrudge(nodes, groups), description: groupsText(groups) };
}

export function drawPartition(prng: Prng, nodes: readonly string[]): Partition | undefined {
  const kinds = partitionKinds(nodes.length);
  if (kinds.length === 0) return undefined;
  return makePartition(prng.pick(kinds), prng, nodes);
}

/** Jepsen's stagger: a delay uniform in [0, 2·mean], so actions come every `mean` on average. */
export function staggerMs(prng: Prng, meanMs: number): number {
  return prng.float() * 2 * meanMs;
}
