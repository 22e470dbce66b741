/**
 * Scheduled faults: network partitions and node crashes with optional restarts.
 *
 * Partition: in [atMs, healAtMs) nodes in different groups cannot exchange messages. A message is dropped when
 * its send time or its delivery time falls inside the window and it crosses groups (a message already on the
 * wire when the partition starts is lost too, as is one sent just before healing that would arrive after).
 * Nodes missing from `groups` form one extra group together. Partitions may overlap; each applies on its own.
 *
 * Crash: the node loses its state, its timers and every message addressed to it that has not been delivered
 * yet (messages it already sent stay on the wire). Messages sent to it while it is down and arriving after its
 * restart are delivered: the network does not know the node was down. Restart: `protocol.init` again with the
 * same options and the then current time and what the node persisted (crash-recover; anything else is lost),
 * unless the crash lost the durable store too. Crash and restart apply literally: crashing a node that
 * is down and restarting a node that is up do nothing.
 */
import type { NodeId } from '../core/ids.js';
import type { Prng } from '../core/prng.js';

export type Fault =
  | { readonly kind: 'partition'; readonly atMs: number; readonly healAtMs: number; readonly groups: readonly (readonly NodeId[])[] }
  /** `loseDurableState`: the node's durable store goes with it (a lost disk), so it restarts empty. */
  | { readonly kind: 'crash'; readonly atMs: number; readonly node: NodeId; readonly restartAtMs?: number; readonly loseDurableState?: boolean };

/** Partitions resolved over node indices. Internal to the simulator. */
export class PartitionTable {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** groupOf[p][node index]: the node's group in partition p. */
  private readonly groupOf: Int32Array[] = [];

  constructor(nodeCount: number, indexOf: ReadonlyMap<NodeId, number>, faults: readonly Fault[]) {
    for (let k = 0; k < faults.length; k++) {
      const f = faults[k]!;
      if (f.kind !== 'partition') continue;
      if (!Number.isFinite(f.atMs) || !Number.isFinite(f.healAtMs) || f.healAtMs < f.atMs) {
        throw new RangeError(`faults[${k}]: a partition needs finite atMs <= healAtMs`);
      }
      // Unlisted nodes share group -1.
      const groups = new Int32Array(nodeCount).fill(-1);
      f.groups.forEach((group, g) => {
        for (const node of group) {
          const i = indexOf.get(node);
          if (i === undefined) throw new RangeError(`faults[${k}]: unknown node ${node}`);
          if (groups[i] !== -1) throw new RangeError(`faults[${k}]: node ${node} is in two groups`);
          groups[i] = g;
        }
      });
      this.starts.push(f.atMs);
      this.ends.push(f.healAtMs);
      this.groupOf.push(groups);
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
        const groups = this.groupOf[p]!;
        if (groups[from] !== groups[to]) return true;
      }
    }
    return false;
  }
}

/** Checks the crash faults of a schedule; partitions are checked by PartitionTable. */
export function validateCrashes(indexOf: ReadonlyMap<NodeId, number>, faults: readonly Fault[]): void {
  for (let k = 0; k < faults.length; k++) {
    const f = faults[k]!;
    if (f.kind === 'partition') continue;
    if (f.kind !== 'crash') throw new RangeError(`faults[${k}]: unknown kind ${JSON.stringify((f as { kind: unknown }).kind)}`);
    if (!indexOf.has(f.node)) throw new RangeError(`faults[${k}]: unknown node ${f.node}`);
    if (!Number.isFinite(f.atMs)) throw new RangeError(`faults[${k}]: atMs must be finite`);
    if (f.restartAtMs !== undefined && !(Number.isFinite(f.restartAtMs) && f.restartAtMs > f.atMs)) {
      throw new RangeError(`faults[${k}]: restartAtMs must be finite and after atMs`);
    }
    if (f.loseDurableState !== undefined && typeof f.loseDurableState !== 'boolean') {
      throw new RangeError(`faults[${k}]: loseDurableState must be true or false`);
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
}

const DEFAULT_MAX_GROUPS = 3;
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
  // Stable sort: ties keep draw order, so the result stays deterministic.
  return faults.sort((a, b) => a.atMs - b.atMs);
}
