/**
 * The replicated workloads `chatterbox maelstrom` can host (see service.ts for the interface). The driver is
 * generic over this list: the first request one of them claims (or the first peer message naming one) fixes
 * the node's workload.
 *
 * All of them are delta anti-entropy (../replication/delta-sync.ts) over a different lattice, with the gossip
 * presets for tuning:
 * - `broadcast`: the gossip message log; `read` returns every message. Maelstrom's `topology` is acknowledged
 *   and ignored: the preset's overlay is measured to do better than its grid (see the README).
 * - `g-set`: a grow-only set (GSet).
 * - `pn-counter`: a PN-counter; it also serves Maelstrom's `g-counter` workload, whose requests look the same
 *   (a grow-only run of a PN-counter is a G-counter), so the two need not be told apart.
 * - `txn-rw-register`: read-committed transactions over LWW registers, every transaction one stamp and one
 *   delta (txn.ts).
 *
 * And one over consensus: `lin-kv`, Raft (../consensus/) replicating a map of registers (lin-kv.ts). Its `read`
 * names a `key`, the others' never do, which tells the workloads apart from the first read.
 */
import { GOSSIP_PRESETS, gossipOptions, gossipService, type GossipPreset } from '../broadcast/gossip.js';
import { MessageLog } from '../broadcast/message-log.js';
import { PNCounter } from '../crdt/counters.js';
import { isPlainData, type PlainData } from '../crdt/data.js';
import { GSet } from '../crdt/gset.js';
import { crdtLattice, type Lattice } from '../replication/lattice.js';
import { deltaSync, type ReplicatedService, type ServiceContext, type ServiceResult, type SyncTimer } from '../replication/delta-sync.js';
import { KAFKA_WORKLOAD } from './kafka.js';
import { LIN_KV_WORKLOAD } from './lin-kv.js';
import { MaelstromError, type Body, type ClientReply, type ClientRequest, type Workload } from './service.js';
import { TXN_SERVICE, claimsTxn } from './txn.js';

type Result<T> = ServiceResult<T, ClientReply>;

function reply<T>(token: number, body: Body, delta?: T): Result<T> {
  return { delta: delta ?? null, outputs: [{ token, body }] };
}

function malformed<T>(token: number, text: string): Result<T> {
  return reply<T>(token, { type: 'error', code: MaelstromError.malformedRequest, text });
}

/**
 * A service whose requests are Maelstrom client requests; `handle` answers one body. Durable: what a node
 * acknowledged is persisted before the reply, so a node killed and restarted with `--data-dir` keeps it (without
 * one the driver's store is memory, and a restart starts empty, as a Maelstrom node does).
 */
function maelstromService<T>(name: string, lattice: Lattice<T>, handle: (ctx: ServiceContext<T>, token: number, body: Body) => Result<T>): ReplicatedService<T, ClientRequest, ClientReply> {
  return { name, lattice, durable: true, request: (ctx, { token, body }) => handle(ctx, token, body) };
}

/** The options every hosted workload runs with: the gossip preset `--preset` names (the process's own). */
function presetOptions(flags: Readonly<Record<string, unknown>>): ReturnType<typeof gossipOptions> {
  const preset = flags['preset'] ?? 'latency';
  if (!GOSSIP_PRESETS.includes(preset as GossipPreset)) throw new RangeError(`unknown preset ${JSON.stringify(preset)}; expected one of ${GOSSIP_PRESETS.join(', ')}`);
  return gossipOptions(preset as GossipPreset);
}

export const BROADCAST_SERVICE = maelstromService<MessageLog>('broadcast', gossipService.lattice, (ctx, token, body) => {
  switch (body.type) {
    case 'broadcast': {
      const message = body['message'];
      if (message === undefined || !isPlainData(message)) return malformed(token, 'broadcast needs a message');
      const { delta } = ctx.value.append(ctx.writer, message as PlainData);
      return reply(token, { type: 'broadcast_ok' }, delta);
    }
    case 'read':
      return reply(token, { type: 'read_ok', messages: ctx.value.payloads() });
    case 'topology':
      return reply(token, { type: 'topology_ok' });
    default:
      return reply(token, { type: 'error', code: MaelstromError.notSupported, text: `broadcast does not handle ${body.type}` });
  }
});

export const GSET_SERVICE = maelstromService<GSet<string | number>>('g-set', crdtLattice(() => new GSet<string | number>()), (ctx, token, body) => {
  switch (body.type) {
    case 'add': {
      const element = body['element'];
      if (typeof element !== 'number' && typeof element !== 'string') return malformed(token, 'add needs an element (a number or a string)');
      if (ctx.value.has(element)) return reply(token, { type: 'add_ok' });
      return reply(token, { type: 'add_ok' }, ctx.value.add(element));
    }
    case 'read':
      return reply(token, { type: 'read_ok', value: [...ctx.value] });
    default:
      return reply(token, { type: 'error', code: MaelstromError.notSupported, text: `g-set does not handle ${body.type}` });
  }
});

export const COUNTER_SERVICE = maelstromService<PNCounter>('pn-counter', crdtLattice(() => new PNCounter()), (ctx, token, body) => {
  switch (body.type) {
    case 'add': {
      const delta = body['delta'];
      if (typeof delta !== 'number' || !Number.isSafeInteger(delta)) return malformed(token, 'add needs an integer delta');
      if (delta === 0) return reply(token, { type: 'add_ok' });
      const replica = ctx.writer;
      const change = delta > 0 ? ctx.value.increment(replica, delta) : ctx.value.decrement(replica, -delta);
      return reply(token, { type: 'add_ok' }, change);
    }
    case 'read':
      return reply(token, { type: 'read_ok', value: ctx.value.value() });
    default:
      return reply(token, { type: 'error', code: MaelstromError.notSupported, text: `pn-counter does not handle ${body.type}` });
  }
});

const isType = (body: Body, ...types: string[]): boolean => types.includes(body.type);

/**
 * A workload hosting `service` over delta anti-entropy with the preset options: the one way a hosted workload is
 * made, so that a variant of a shipped one (a test's deliberate bug) runs exactly as the shipped one does.
 */
export function hostedWorkload<T>(service: ReplicatedService<T, ClientRequest, ClientReply>, claims: (body: Body) => boolean): Workload<SyncTimer> {
  return { name: service.name, claims, protocol: deltaSync(service), options: presetOptions };
}

/** A `read` without a `key`: the CRDT workloads' (lin-kv's names one). */
const isKeylessRead = (body: Body): boolean => isType(body, 'read') && !('key' in body);

export const WORKLOADS: readonly Workload[] = [
  hostedWorkload(BROADCAST_SERVICE, (body) => isType(body, 'broadcast', 'topology') || isKeylessRead(body)),
  hostedWorkload(GSET_SERVICE, (body) => isKeylessRead(body) || (isType(body, 'add') && 'element' in body)),
  hostedWorkload(COUNTER_SERVICE, (body) => isKeylessRead(body) || (isType(body, 'add') && 'delta' in body)),
  hostedWorkload(TXN_SERVICE, claimsTxn),
  LIN_KV_WORKLOAD,
  KAFKA_WORKLOAD,
];
