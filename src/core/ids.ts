/** A node's identity within a cluster. Branded so a host string or a port cannot be passed by mistake. */
export type NodeId = string & { readonly __brand: 'NodeId' };

export function nodeId(id: string): NodeId {
  if (id.length === 0) throw new Error('a node id cannot be empty');
  return id as NodeId;
}

/** Every node orders node ids the same way: plain code-unit order, independent of locale. */
export function compareNodeIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
