/**
 * The neighbour maps the harness sends broadcast nodes in `topology`, built as Maelstrom builds them
 * (workload/broadcast.clj): a roughly square grid (the default), a line, everyone-to-everyone, and spanning
 * trees with at most 2, 3 or 4 children per node.
 */
import type { TopologyName } from './types.js';

export type Topology = Record<string, string[]>;

export function topology(name: TopologyName, nodes: readonly string[]): Topology {
  switch (name) {
    case 'grid':
      return gridTopology(nodes);
    case 'line':
      return lineTopology(nodes);
    case 'total':
      return Object.fromEntries(nodes.map((n) => [n, nodes.filter((m) => m !== n)]));
    case 'tree2':
      return treeTopology(2, nodes);
    case 'tree3':
      return treeTopology(3, nodes);
    case 'tree4':
      return treeTopology(4, nodes);
  }
}

/**
 * Row-major on a side × side grid, side = ceil(sqrt(n)); neighbours are the nodes below, above, right and left
 * (in Maelstrom's order) that exist.
 */
export function gridTopology(nodes: readonly string[]): Topology {
  const n = nodes.length;
  const side = Math.ceil(Math.sqrt(n));
  const at = (i: number, j: number): string | undefined => {
    if (i < 0 || j < 0 || j >= side) return undefined;
    const index = i * side + j;
    return index < n ? nodes[index] : undefined;
  };
  const result: Topology = {};
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      const self = at(i, j);
      if (self === undefined) continue;
      result[self] = [at(i + 1, j), at(i - 1, j), at(i, j + 1), at(i, j - 1)].filter((x): x is string => x !== undefined);
    }
  }
  return result;
}

export function lineTopology(nodes: readonly string[]): Topology {
  return Object.fromEntries(
    nodes.map((n, i) => [n, [nodes[i - 1], nodes[i + 1]].filter((x): x is string => x !== undefined)]),
  );
}

interface Tree {
  readonly node: string;
  readonly children: readonly Tree[];
}

/** Maelstrom's vec->tree: the first node is the root; the rest are cut into at most b equal chunks, recursively. */
function buildTree(b: number, nodes: readonly string[]): Tree | undefined {
  const [root, ...rest] = nodes;
  if (root === undefined) return undefined;
  const chunk = Math.ceil(rest.length / b);
  const children: Tree[] = [];
  for (let start = 0; start < rest.length; start += chunk) {
    const child = buildTree(b, rest.slice(start, start + chunk));
    if (child !== undefined) children.push(child);
  }
  return { node: root, children };
}

/** Neighbours are the parent (first) and the children. */
export function treeTopology(b: number, nodes: readonly string[]): Topology {
  const result: Topology = {};
  const walk = (tree: Tree, parent: string | undefined): void => {
    result[tree.node] = [...(parent === undefined ? [] : [parent]), ...tree.children.map((c) => c.node)];
    for (const child of tree.children) walk(child, tree.node);
  };
  const tree = buildTree(b, nodes);
  if (tree !== undefined) walk(tree, undefined);
  return result;
}
