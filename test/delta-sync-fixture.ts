/**
 * Shared set-up for the delta-sync unit tests (test/delta-sync-*.test.ts): a counter service, options, and a
 * state built the way `init` builds it, so each concern's handlers can be driven alone, by hand.
 */
import { nodeId, type NodeId } from '../src/core/ids.js';
import { PNCounter } from '../src/crdt/index.js';
import type { Effect } from '../src/protocol/types.js';
import { applyOverlay } from '../src/replication/delta-sync/links.js';
import { newSyncState, type SyncState, type SyncTimer } from '../src/replication/delta-sync/state.js';
import type { ReplicatedService, SyncEnv, SyncMsg, SyncOptions } from '../src/replication/delta-sync/types.js';
import { crdtLattice } from '../src/replication/lattice.js';

export const A = nodeId('a');
export const B = nodeId('b');
export const C = nodeId('c');
export const D = nodeId('d');

export const counterLattice = crdtLattice(() => new PNCounter());

/** Requests are amounts to add; outputs are the values deltas brought in. */
export const counterService: ReplicatedService<PNCounter, number, number> = {
  name: 'counter',
  lattice: counterLattice,
  request: (ctx, amount) => ({ delta: ctx.value.increment(ctx.writer, amount) }),
  received: (ctx) => [ctx.value.value()],
};

export const durableCounter: ReplicatedService<PNCounter, number, number> = { ...counterService, durable: true };

export function envOf(service: ReplicatedService<PNCounter, number, number> = counterService): SyncEnv<PNCounter, number, number> {
  return { service, lattice: service.lattice };
}

export function optionsOf(overrides: Partial<SyncOptions> = {}): SyncOptions {
  return {
    topology: { kind: 'full' },
    lazy: null,
    flushMs: 10,
    ackDelayMs: 5,
    retransmitMs: 100,
    maxRetransmitMs: 400,
    antiEntropyMs: null,
    maxBufferedDeltas: 8,
    seed: 1,
    ...overrides,
  };
}

/** A fresh state of `self` (incarnation `now`), its links built from the options' overlays. */
export function stateOf(self: NodeId, nodes: readonly NodeId[], options: SyncOptions = optionsOf(), now = 0): SyncState<PNCounter> {
  const state = newSyncState<PNCounter>({ self, nodes, options, incarnation: now, writer: self, writerPersisted: false, value: new PNCounter() });
  applyOverlay(state, options.topology, now);
  return state;
}

/** A delta adding `amount` under replica `writer`, encoded as it travels. */
export function deltaBytes(writer: string, amount: number): Uint8Array {
  return counterLattice.encode(new PNCounter().increment(writer, amount));
}

export type Effects = Effect<SyncMsg, number, SyncTimer>[];

export function sentTo(effects: readonly Effect<SyncMsg, unknown, SyncTimer>[], to: NodeId): SyncMsg[] {
  const msgs: SyncMsg[] = [];
  for (const e of effects) if (e.kind === 'send' && e.to === to) msgs.push(e.msg);
  return msgs;
}

export function timers(effects: readonly Effect<SyncMsg, unknown, SyncTimer>[]): Array<{ name: SyncTimer; at: number | null }> {
  const out: Array<{ name: SyncTimer; at: number | null }> = [];
  for (const e of effects) if (e.kind === 'timer') out.push({ name: e.name, at: e.at });
  return out;
}
