/**
 * Scheduled faults: network partitions, node crashes with optional restarts, and pauses.
 *
 * Partition: in [atMs, healAtMs) nodes in different groups cannot exchange messages. A message is dropped when
 * its send time or its delivery time falls inside the window and it crosses groups (a message already on the
 * wire when the partition starts is lost too, as is one sent just before healing that would arrive after).
 * Nodes missing from `groups` form one extra group together. Partitions may overlap; each applies on its own.
 * A partition is given either as `groups` or as a `ring`, Jepsen's majorities-ring: the ring lists every node
 * once, in ring order, and each node exchanges messages only with the nodes at most `ringRadius(n)` places from
 * it, so every node sees a majority and no two nodes see the same one (groups cannot say this: seeing is not
 * transitive there). `jepsenPartition` draws Jepsen's partition targets in either form, and `nemesisSchedule`
 * lays them out in time as Jepsen's partition nemesis does (the harness's nemesis is this schedule).
 *
 * Crash: the node loses its state, its timers and every message addressed to it that has not been delivered
 * yet (messages it already sent stay on the wire). Messages sent to it while it is down and arriving after its
 * restart are delivered: the network does not know the node was down. Restart: a new process, which (like the
 * first) runs `protocol.init` after the node's init delay (`SimulationConfig.initDelayMs`), with the then current
 * time, `startedAtMs` = the restart time, and what the node persisted (crash-recover; anything else is lost),
 * unless the crash lost the durable store too. Crash and restart apply literally: crashing a node whose process
 * is not running (down, or not started yet) does nothing, and restarting a node whose process runs (up, or still
 * starting) does nothing; a restart before a node's first start starts it then. A crash while the process is
 * starting kills it before its init.
 *
 * Pause: in [atMs, resumeAtMs) the node's process is stopped, as by SIGSTOP … SIGCONT. It neither receives nor
 * fires timers nor takes injected inputs, but nothing addressed to it is lost: the kernel keeps buffering what
 * peers send. At resume the node's clock has simply jumped (it sees `now` = the resume time) and it catches up
 * in the order a Node.js event loop does after SIGCONT: a pending init first, then every timer that fell due, in
 * deadline order, then the held messages and injected inputs in their arrival order. Partitions are judged when
 * a message reaches the host (not when the process reads it). Messages it sent before the pause stay on the
 * wire. A crash during a pause ends it, and what was held is lost like any message in flight at a crash. A
 * pause applies literally too: pausing a node whose process is not running does nothing. Pauses of one node
 * must not overlap or touch (merge them into one); the schedule is refused otherwise.
 */
import type { NodeId } from '../core/ids.js';
import type { Prng } from '../core/prng.js';

/** Nodes in different groups cannot exchange messages. */
export type GroupsPartition = { readonly kind: 'partition'; readonly atMs: number; readonly healAtMs: number; readonly groups: readonly (readonly NodeId[])[] };
/** Every node, in ring order; each exchanges messages only with the nodes within `ringRadius(ring.length)` places. */
export type RingPartition = { readonly kind: 'partition'; readonly atMs: number; readonly healAtMs: number; readonly ring: readonly NodeId[] };
export type PartitionFault = GroupsPartition | RingPartition;

export type Fault =
  | PartitionFault
  /** `loseDurableState`: the node's durable store goes with it (a lost disk), so it restarts empty. */
  | { readonly kind: 'crash'; readonly atMs: number; readonly node: NodeId; readonly restartAtMs?: number; readonly loseDurableState?: boolean }
  /** The node's process is stopped in [atMs, resumeAtMs) (SIGSTOP, then SIGCONT). */
  | { readonly kind: 'pause'; readonly atMs: number; readonly node: NodeId; readonly resumeAtMs: number };

/** When the fault is over: the partition heals, the node restarts or resumes; a crash for good is over at once. */
export function faultEndMs(f: Fault): number {
  switch (f.kind) {
    case 'partition':
      return f.healAtMs;
    case 'crash':
      return f.restartAtMs ?? f.atMs;
    case 'pause':
      return f.resumeAtMs;
  }
}

/** Partitions resolved over node indices. Internal to the simulator (and the harness's process backend). */
export class PartitionTable {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /**
   * Per partition, per node index: its group (groups form; unlisted nodes share -1) or its place on the ring
   * (ring form, where `radius[p]` >= 0 says which form it is).
   */
  private readonly placeOf: Int32Array[] = [];
  /** The ring form's radius, or -1 for the groups form. */
  private readonly radius: number[] = [];

  constructor(nodeCount: number, indexOf: ReadonlyMap<NodeId, number>, faults: readonly Fault[]) {
    for (let k = 0; k < faults.length; k++) {
      const f = faults[k]!;
      if (f.kind !== 'partition') continue;
      if (!Number.isFinite(f.atMs) || !Number.isFinite(f.healAtMs) || f.healAtMs < f.atMs) {
        throw new RangeError(`faults[${k}]: a partition needs finite atMs <= healAtMs`);
      }
      const places = new Int32Array(nodeCount).fill(-1);
      const place = (node: NodeId, at: number, twice: string): void => {
        const i = indexOf.get(node);
        if (i === undefined) throw new RangeError(`faults[${k}]: unknown node ${node}`);
        if (places[i] !== -1) throw new RangeError(`faults[${k}]: node ${node} ${twice}`);
        places[i] = at;
      };
      if ('ring' in f) {
        const radius = ringRadius(f.ring.length);
        if (f.ring.length !== nodeCount) throw new RangeError(`faults[${k}]: a ring lists every node once (${nodeCount}), got ${f.ring.length}`);
        if (radius === undefined) throw new RangeError(`faults[${k}]: a majorities ring needs at least 4 nodes, or every node sees every other`);
        f.ring.forEach((node, at) => place(node, at, 'is on the ring twice'));
        this.radius.push(radius);
      } else {
        f.groups.forEach((group, g) => {
          for (const node of group) place(node, g, 'is in two groups');
        });
        this.radius.push(-1);
      }
      this.starts.push(f.atMs);
      this.ends.push(f.healAtMs);
      this.placeOf.push(places);
    }
  }

  get count(): number {
    return this.starts.length;
  }

  /** Whether a message between the two nodes is blocked at virtual time `atMs`. */
  separated(from: number, to: number, atMs: number): boolean {
    const n = this.starts.length;
    for (let p = 0; p < n; p++) {
      if (atMs >= this.starts[p]! && atMs < this.ends[p]!) {
        const places = this.placeOf[p]!;
        const radius = this.radius[p]!;
        if (radius < 0) {
          if (places[from] !== places[to]) return true;
        } else {
          const apart = Math.abs(places[from]! - places[to]!);
          if (Math.min(apart, places.length - apart) > radius) return true;
        }
      }
    }
    return false;
  }
}

/**
 * The radius of a majorities ring over n nodes: the fewest places either side that make a node's window a
 * majority. Undefined when that window is everyone (n < 4), so no ring partition cuts anything.
 */
export function ringRadius(n: number): number | undefined {
  const majority = Math.floor(n / 2) + 1;
  const radius = Math.ceil((majority - 1) / 2);
  return 2 * radius + 1 < n ? radius : undefined;
}

/**
 * Jepsen's partition targets (jepsen.nemesis.combined) that make sense for the node count: `one` isolates a
 * node, `minority-third` fewer than a third, `majority` splits a random majority from the rest, and
 * `majorities-ring` gives every node a majority and no two the same one.
 */
export type PartitionTarget = 'one' | 'minority-third' | 'majority' | 'majorities-ring';

/** Jepsen's util/minority-third: the largest integer strictly below n/3. */
function minorityThird(n: number): number {
  return Math.ceil(n / 3) - 1;
}

/** The partition targets that cut at least one link in a cluster of n nodes. */
export function partitionTargets(n: number): PartitionTarget[] {
  if (n < 2) return [];
  const targets: PartitionTarget[] = ['one'];
  if (n >= 3) targets.push('majority');
  if (minorityThird(n) >= 1) targets.push('minority-third');
  if (ringRadius(n) !== undefined) targets.push('majorities-ring');
  return targets;
}

function shuffled<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** n2 before n10: node names compare by their number when both have one, else as strings. */
function byNodeNumber(a: string, b: string): number {
  const na = /^n(\d+)$/.exec(a);
  const nb = /^n(\d+)$/.exec(b);
  if (na !== null && nb !== null) return Number(na[1]) - Number(nb[1]);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One partition of `target`'s shape over a random order of the nodes, in [atMs, healAtMs). Groups list their
 * members in node order, so that a printed schedule reads easily; a ring keeps its drawn order, which is its shape.
 */
export function jepsenPartition(target: PartitionTarget, prng: Prng, nodes: readonly NodeId[], atMs: number, healAtMs: number): PartitionFault {
  const order = shuffled(prng, nodes);
  if (target === 'majorities-ring') return { kind: 'partition', atMs, healAtMs, ring: order };
  const n = nodes.length;
  const cut = target === 'one' ? 1 : target === 'minority-third' ? minorityThird(n) : n - (Math.floor(n / 2) + 1);
  const groups = [order.slice(0, cut), order.slice(cut)].map((group) => group.sort(byNodeNumber));
  return { kind: 'partition', atMs, healAtMs, groups };
}

/** Who hears whom, in one line: `{n1} | {n2 n3}`, or the ring and each node's window. */
export function describePartition(f: PartitionFault): string {
  if ('ring' in f) return `majorities ring ${f.ring.join(' ')}, each node hears the ${2 * (ringRadius(f.ring.length) ?? 0) + 1} nearest`;
  return f.groups.map((g) => `{${g.join(' ')}}`).join(' | ');
}

/** Jepsen's stagger: a delay uniform in [0, 2·mean], so that actions come every `mean` on average. */
export function staggerMs(prng: Prng, meanMs: number): number {
  return prng.float() * 2 * meanMs;
}

/**
 * The most partitions one nemesis schedule holds: every message checks the partitions of its time, so a schedule
 * must stay small; 10,000 is a 100 ms nemesis over more than half an hour.
 */
export const MAX_NEMESIS_PARTITIONS = 10_000;

/**
 * Jepsen's partition nemesis as a schedule over [0, untilMs): wait a stagger, partition (a target drawn from
 * those that cut something), wait a stagger, heal, and so on; whatever is still cut at `untilMs` heals then.
 * Nothing with fewer than 2 nodes. Deterministic in the prng's state. Throws a RangeError for an interval that
 * is not a positive finite number, an end that is not finite, or a schedule of more than MAX_NEMESIS_PARTITIONS.
 */
export function nemesisSchedule(
  prng: Prng,
  nodes: readonly NodeId[],
  intervalMs: number,
  untilMs: number,
): Array<{ readonly target: PartitionTarget; readonly fault: PartitionFault }> {
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) throw new RangeError(`the nemesis interval must be a positive number of milliseconds, not ${intervalMs}`);
  if (!Number.isFinite(untilMs)) throw new RangeError(`the nemesis must end at a finite time, not ${untilMs}`);
  const targets = partitionTargets(nodes.length);
  const schedule: Array<{ target: PartitionTarget; fault: PartitionFault }> = [];
  for (let at = 0; ; ) {
    if (schedule.length >= MAX_NEMESIS_PARTITIONS) {
      throw new RangeError(`a nemesis every ${intervalMs} ms until ${untilMs} ms makes more than ${MAX_NEMESIS_PARTITIONS} partitions: lengthen the interval or shorten the run`);
    }
    at += staggerMs(prng, intervalMs);
    if (at >= untilMs) break;
    const startMs = at;
    // The shape is drawn before the heal time, as the nemesis picks it when it strikes.
    const target = targets.length === 0 ? undefined : prng.pick(targets);
    const drawn = target === undefined ? undefined : jepsenPartition(target, prng, nodes, startMs, startMs);
    at += staggerMs(prng, intervalMs);
    if (target !== undefined && drawn !== undefined) schedule.push({ target, fault: { ...drawn, healAtMs: Math.min(at, untilMs) } });
    if (at >= untilMs) break;
  }
  return schedule;
}

/**
 * Checks the crash and pause faults of a schedule (partitions are checked by PartitionTable). `where(k)` names
 * entry k in messages (`faults[k]` in the simulator, `entry k` for a file's schedule).
 */
export function validateNodeFaults(
  faults: readonly Fault[],
  isNode: (node: NodeId) => boolean,
  where: (k: number) => string = (k) => `faults[${k}]`,
): void {
  const pausesOf = new Map<NodeId, number[]>();
  for (let k = 0; k < faults.length; k++) {
    const f = faults[k]!;
    if (f.kind === 'partition') continue;
    if (f.kind !== 'crash' && f.kind !== 'pause') throw new RangeError(`${where(k)}: unknown kind ${JSON.stringify((f as { kind: unknown }).kind)}`);
    if (!isNode(f.node)) throw new RangeError(`${where(k)}: unknown node ${f.node}`);
    if (!Number.isFinite(f.atMs)) throw new RangeError(`${where(k)}: atMs must be finite`);
    if (f.kind === 'pause') {
      if (!(Number.isFinite(f.resumeAtMs) && f.resumeAtMs > f.atMs)) throw new RangeError(`${where(k)}: resumeAtMs must be finite and after atMs`);
      const list = pausesOf.get(f.node);
      if (list === undefined) pausesOf.set(f.node, [k]);
      else list.push(k);
      continue;
    }
    if (f.restartAtMs !== undefined && !(Number.isFinite(f.restartAtMs) && f.restartAtMs > f.atMs)) {
      throw new RangeError(`${where(k)}: restartAtMs must be finite and after atMs`);
    }
    if (f.loseDurableState !== undefined && typeof f.loseDurableState !== 'boolean') {
      throw new RangeError(`${where(k)}: loseDurableState must be true or false`);
    }
  }
  // One stop/continue state per process: a pause inside another, or one resuming as the next starts, would be
  // ambiguous (which SIGCONT ends which SIGSTOP?), so the schedule must say it as one pause.
  const pause = (k: number): Extract<Fault, { kind: 'pause' }> => faults[k] as Extract<Fault, { kind: 'pause' }>;
  for (const [node, ks] of pausesOf) {
    const sorted = ks.slice().sort((x, y) => pause(x).atMs - pause(y).atMs || x - y);
    for (let j = 1; j < sorted.length; j++) {
      const earlier = sorted[j - 1]!;
      const later = sorted[j]!;
      if (pause(later).atMs <= pause(earlier).resumeAtMs) {
        throw new RangeError(`${where(Math.max(earlier, later))}: pauses of ${node} overlap or touch ${where(Math.min(earlier, later))} (merge them into one)`);
      }
    }
  }
}

export interface FaultScheduleOptions {
  readonly nodes: readonly NodeId[];
  /** Faults start in [fromMs, toMs). */
  readonly fromMs: number;
  readonly toMs: number;
  /** Every partition heals, and (with allowRestarts) every crashed node restarts, at or before this time. */
  readonly healByMs: number;
  /** Draws between 0 and this many partitions. */
  readonly maxPartitions: number;
  /** Exactly this many crashes, of distinct nodes (at most the node count). */
  readonly crashCount: number;
  /** When true every crashed node restarts by healByMs; when false crashes are permanent. */
  readonly allowRestarts: boolean;
  /** Most groups in one partition (at least 2). Default 3. */
  readonly maxGroups?: number;
  /** With restarts: the chance that a crash also loses the node's durable store. Default 0 (drawn only if > 0). */
  readonly durableLossChance?: number;
  /**
   * Draws between 0 and this many pauses of random nodes, starting in [fromMs, toMs) and resuming by healByMs.
   * Default 0: pauses are drawn only when asked for. A drawn pause that would overlap or touch an earlier one
   * of the same node is left out, so a schedule may hold fewer.
   */
  readonly maxPauses?: number;
  /** Pause lengths, whole ms drawn in [minMs, maxMs] (then cut short to resume by healByMs). Default DEFAULT_PAUSE_LENGTH_MS. */
  readonly pauseLengthMs?: { readonly minMs: number; readonly maxMs: number };
}

const DEFAULT_MAX_GROUPS = 3;
/** Drawn pauses last 0.1–2 s unless told otherwise: long enough to outlast timeouts, short enough to end. */
export const DEFAULT_PAUSE_LENGTH_MS = Object.freeze({ minMs: 100, maxMs: 2000 });
/** Fault times are whole milliseconds, which keeps a printed schedule short. */
function drawMs(prng: Prng, fromMs: number, toMs: number): number {
  return Math.min(toMs, Math.floor(fromMs + prng.float() * (toMs - fromMs)));
}

/** A random fault schedule, sorted by start time. Deterministic in the prng's state. */
export function randomFaultSchedule(prng: Prng, opts: FaultScheduleOptions): Fault[] {
  const { nodes, fromMs, toMs, healByMs } = opts;
  if (![fromMs, toMs, healByMs].every(Number.isInteger)) throw new RangeError('fromMs, toMs and healByMs must be whole ms');
  if (!(fromMs < toMs && toMs <= healByMs)) throw new RangeError('need fromMs < toMs <= healByMs');
  if (!(opts.crashCount >= 0 && opts.crashCount <= nodes.length)) throw new RangeError('crashCount must be in [0, nodes.length]');
  const maxGroups = Math.max(2, Math.min(opts.maxGroups ?? DEFAULT_MAX_GROUPS, nodes.length));
  const faults: Fault[] = [];

  const partitions = nodes.length < 2 ? 0 : prng.int(0, Math.max(0, opts.maxPartitions));
  for (let p = 0; p < partitions; p++) {
    const atMs = drawMs(prng, fromMs, toMs);
    const healAtMs = Math.max(atMs + 1, drawMs(prng, atMs + 1, healByMs));
    const groupCount = prng.int(2, maxGroups);
    const assignment = nodes.map(() => prng.int(0, groupCount - 1));
    // Make sure the partition separates something: at least two groups are non-empty.
    if (assignment.every((g) => g === assignment[0])) assignment[0] = (assignment[0]! + 1) % groupCount;
    const groups: NodeId[][] = [];
    for (let g = 0; g < groupCount; g++) {
      const members = nodes.filter((_, i) => assignment[i] === g);
      if (members.length > 0) groups.push(members);
    }
    faults.push({ kind: 'partition', atMs, healAtMs, groups });
  }

  // Distinct victims via a partial Fisher-Yates shuffle.
  const pool = nodes.slice();
  for (let c = 0; c < opts.crashCount; c++) {
    const j = prng.int(c, pool.length - 1);
    const node = pool[j]!;
    pool[j] = pool[c]!;
    pool[c] = node;
    const atMs = drawMs(prng, fromMs, toMs);
    if (opts.allowRestarts) {
      const restartAtMs = Math.max(atMs + 1, drawMs(prng, atMs + 1, healByMs));
      // Drawn only when asked for, so that schedules without it stay what they were for every seed.
      const loseDurableState = (opts.durableLossChance ?? 0) > 0 && prng.chance(opts.durableLossChance!);
      faults.push(loseDurableState ? { kind: 'crash', atMs, node, restartAtMs, loseDurableState } : { kind: 'crash', atMs, node, restartAtMs });
    } else {
      faults.push({ kind: 'crash', atMs, node });
    }
  }
  // Drawn after everything else and only when asked for, so that a schedule's partitions and crashes are the
  // same with or without pauses, and schedules without pauses stay what they were for every seed.
  const maxPauses = opts.maxPauses ?? 0;
  if (maxPauses > 0) faults.push(...drawPauses(prng, opts, maxPauses));
  // Stable sort: ties keep draw order, so the result stays deterministic.
  return faults.sort((a, b) => a.atMs - b.atMs);
}

function drawPauses(prng: Prng, opts: FaultScheduleOptions, maxPauses: number): Fault[] {
  const { nodes, fromMs, toMs, healByMs } = opts;
  const { minMs, maxMs } = opts.pauseLengthMs ?? DEFAULT_PAUSE_LENGTH_MS;
  if (!Number.isInteger(maxPauses)) throw new RangeError('maxPauses must be a whole number');
  if (!(Number.isInteger(minMs) && Number.isInteger(maxMs) && minMs >= 1 && minMs <= maxMs)) {
    throw new RangeError('pauseLengthMs needs whole ms with 1 <= minMs <= maxMs');
  }
  const pauses: Array<Extract<Fault, { kind: 'pause' }>> = [];
  const count = prng.int(0, maxPauses);
  for (let p = 0; p < count; p++) {
    const node = prng.pick(nodes);
    const atMs = drawMs(prng, fromMs, toMs);
    const resumeAtMs = Math.max(atMs + 1, Math.min(healByMs, atMs + prng.int(minMs, maxMs)));
    // Every draw above happens whatever this decides, so each pause's draws stay put.
    if (pauses.some((q) => q.node === node && atMs <= q.resumeAtMs && q.atMs <= resumeAtMs)) continue;
    pauses.push({ kind: 'pause', atMs, node, resumeAtMs });
  }
  return pauses;
}

/**
 * Per node, in node order, a whole number of ms in [0, maxMs]. For start skew (`startAtMs: (n) => startMs +
 * offsets.get(n)!`) and for init delays alike; fork the prng for each, so one does not shift the other.
 */
export function drawStartOffsets(prng: Prng, nodes: readonly NodeId[], maxMs: number): Map<NodeId, number> {
  if (!(Number.isInteger(maxMs) && maxMs >= 0)) throw new RangeError(`maxMs must be a whole number >= 0, got ${maxMs}`);
  return new Map(nodes.map((node) => [node, prng.int(0, maxMs)]));
}

/** What Jepsen's process nemeses do to a node: `kill` (SIGKILL, then a fresh start) or `pause` (SIGSTOP … SIGCONT). */
export type ProcessFaultKind = 'kill' | 'pause';

/** The most kills and pauses one schedule holds, for the same reason as MAX_NEMESIS_PARTITIONS. */
export const MAX_PROCESS_FAULTS = 10_000;

/**
 * Jepsen's kill and pause nemeses (jepsen.nemesis.combined's process packages) as one schedule over
 * [0, untilMs), in whole ms: wait a stagger, strike a node (the kind drawn from `kinds`, the node from all), wait
 * a stagger, restart or resume it, and so on; what is still down or paused at `untilMs` comes back then.
 *
 * One node at a time, on purpose: with n >= 3 a majority is always up and running, so a consensus workload can
 * make progress between faults and a run judges the node's recovery rather than its unavailability; partitions
 * (`nemesisSchedule`, its own stream) may still overlap a kill or a pause, as Jepsen's combined nemesis allows.
 * A kill is a `crash` fault with its restart, so the simulator runs the same schedule (crash-recover: the node
 * keeps what it persisted). Deterministic in the prng's state; throws a RangeError as `nemesisSchedule` does.
 */
export function processNemesisSchedule(
  prng: Prng,
  nodes: readonly NodeId[],
  kinds: readonly ProcessFaultKind[],
  intervalMs: number,
  untilMs: number,
): Fault[] {
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) throw new RangeError(`the nemesis interval must be a positive number of milliseconds, not ${intervalMs}`);
  if (!Number.isFinite(untilMs)) throw new RangeError(`the nemesis must end at a finite time, not ${untilMs}`);
  const schedule: Fault[] = [];
  if (kinds.length === 0 || nodes.length === 0) return schedule;
  // Whole ms, and each fault starts strictly after the previous one ended: pauses of one node must not touch.
  for (let at = 0; ; ) {
    if (schedule.length >= MAX_PROCESS_FAULTS) {
      throw new RangeError(`a nemesis every ${intervalMs} ms until ${untilMs} ms makes more than ${MAX_PROCESS_FAULTS} kills and pauses: lengthen the interval or shorten the run`);
    }
    const atMs = Math.max(at + (schedule.length === 0 ? 0 : 1), Math.floor(at + staggerMs(prng, intervalMs)));
    if (atMs >= untilMs) break;
    // Kind and node are drawn when the nemesis strikes, before the length of the fault.
    const kind = prng.pick(kinds);
    const node = prng.pick(nodes);
    const endMs = Math.min(untilMs, Math.max(atMs + 1, Math.floor(atMs + staggerMs(prng, intervalMs))));
    schedule.push(kind === 'kill' ? { kind: 'crash', atMs, node, restartAtMs: endMs } : { kind: 'pause', atMs, node, resumeAtMs: endMs });
    at = endMs;
    if (at >= untilMs) break;
  }
  return schedule;
}
