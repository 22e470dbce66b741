/**
 * Overlays: which nodes talk to which. Every node computes the same graph from the same inputs (the cluster's
 * node list, sorted, and a seed), so no node has to announce it.
 *
 * - `full`: everyone is everyone's neighbour. Fewest hops (one), most messages (n−1 per update and node).
 * - `tree`: a spanning tree of the given fanout rooted at the first node in id order; a breadth-first layout
 *   (children of rank r are r·fanout+1 … r·fanout+fanout), so the depth is ⌈log_fanout n⌉ and an update
 *   crosses at most twice that many edges. With fanout ≥ n−1 it is a star.
 * - `regular`: a random k-regular-ish graph (a ring for connectivity plus seeded random chords up to degree k),
 *   connected by construction, low diameter, and no node is a single point of failure.
 * - `given`: an adjacency list from outside (Maelstrom's `topology` message); made symmetric.
 */
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { Prng } from '../core/prng.js';

export type TopologySpec =
  | { readonly kind: 'full' }
  | { readonly kind: 'tree'; readonly fanout: number }
  | { readonly kind: 'regular'; readonly degree: number }
  | { readonly kind: 'given'; readonly neighbours: Readonly<Record<string, readonly string[]>> };

export type Overlay = ReadonlyMap<NodeId, readonly NodeId[]>;

export function describeTopology(spec: TopologySpec): string {
  switch (spec.kind) {
    case 'full':
      return 'full';
    case 'tree':
      return `tree(fanout ${spec.fanout})`;
    case 'regular':
      return `regular(degree ${spec.degree})`;
    case 'given':
      return 'given';
  }
}

/**
 * The last few overlays built, with their inputs. A simulation starts every node with the same node list and
 * options, and each node would otherwise build the whole graph again (an eager and a lazy one in the Plumtree
 * mode): O(n²) for n nodes. The function is pure, so reusing a result for identical (same object) inputs
 * changes nothing but the time.
 */
const recent: { readonly nodes: readonly NodeId[]; readonly spec: TopologySpec; readonly seed: number; readonly overlay: Overlay }[] = [];
const RECENT_OVERLAYS = 4;

/** The overlay over `nodes` (any order; ranks come from sorting the ids). Neighbour lists are sorted by id. */
export function buildOverlay(nodes: readonly NodeId[], spec: TopologySpec, seed = 0): Overlay {
  const hit = recent.find((entry) => entry.nodes === nodes && entry.spec === spec && entry.seed === seed);
  if (hit !== undefined) return hit.overlay;
  const overlay = computeOverlay(nodes, spec, seed);
  recent.unshift({ nodes, spec, seed, overlay });
  if (recent.length > RECENT_OVERLAYS) recent.pop();
  return overlay;
}

function computeOverlay(nodes: readonly NodeId[], spec: TopologySpec, seed: number): Overlay {
  const sorted = [...new Set(nodes)].sort(compareNodeIds);
  const edges = new Map<NodeId, Set<NodeId>>(sorted.map((n) => [n, new Set<NodeId>()]));
  const link = (a: NodeId, b: NodeId): void => {
    if (a === b || !edges.has(a) || !edges.has(b)) return;
    edges.get(a)!.add(b);
    edges.get(b)!.add(a);
  };
  switch (spec.kind) {
    case 'full':
      for (const a of sorted) for (const b of sorted) link(a, b);
      break;
    case 'tree': {
      checkPositiveInteger('fanout', spec.fanout);
      for (let rank = 1; rank < sorted.length; rank++) link(sorted[rank]!, sorted[Math.floor((rank - 1) / spec.fanout)]!);
      break;
    }
    case 'regular': {
      checkPositiveInteger('degree', spec.degree);
      const n = sorted.length;
      for (let i = 0; i < n; i++) link(sorted[i]!, sorted[(i + 1) % n]!);
      const prng = new Prng(seed);
      const target = Math.min(spec.degree, n - 1);
      // Chords between random under-full pairs; bounded attempts, so an unlucky draw leaves a node a chord short
      // rather than looping.
      for (let attempt = 0; attempt < n * target * 8; attempt++) {
        const a = sorted[prng.int(0, n - 1)]!;
        const b = sorted[prng.int(0, n - 1)]!;
        if (a === b || edges.get(a)!.has(b)) continue;
        if (edges.get(a)!.size >= target || edges.get(b)!.size >= target) continue;
        link(a, b);
      }
      break;
    }
    case 'given':
      for (const [node, neighbours] of Object.entries(spec.neighbours)) {
        for (const other of neighbours) link(node as NodeId, other as NodeId);
      }
      break;
  }
  return new Map([...edges].map(([n, set]) => [n, [...set].sort(compareNodeIds)]));
}

/** Whether every node can reach every other over the overlay. */
export function isConnected(overlay: Overlay): boolean {
  const first = overlay.keys().next();
  if (first.done === true) return true;
  const seen = new Set<NodeId>([first.value]);
  const queue: NodeId[] = [first.value];
  while (queue.length > 0) {
    for (const next of overlay.get(queue.pop()!) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen.size === overlay.size;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}
