/**
 * Delta-state replication (`chatterbox/replication`): `deltaSync(service)` turns any lattice (a CRDT of
 * `chatterbox/crdt`, or your own join-semilattice) and a request handler into a protocol of the contract, with
 * delta anti-entropy, acknowledgements, digests and an overlay.
 */
export {
  deltaSync,
  type DeltaSyncProtocol,
  validateSyncOptions,
  type ReplicatedService,
  type ServiceContext,
  type ServiceResult,
  type SyncMsg,
  type SyncOptions,
  type SyncState,
  type SyncStats,
  type SyncTimer,
} from './delta-sync.js';
export { crdtLattice, type Lattice } from './lattice.js';
export { buildOverlay, describeTopology, type Overlay, type TopologySpec } from './topology.js';
