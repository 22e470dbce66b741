/**
 * The replicated workloads `chatterbox maelstrom` can host (see service.ts for the interface). The driver is
 * generic over this list: the first request one of them claims (or the first peer message naming one) fixes
 * the node's workload.
 *
 * All of them are delta anti-entropy (../replication/delta-sync.ts) over a different lattice, with the gossip
 * presets for tuning:
 * - `broadcast`: the gossip message log; `read` returns every message. Maelstrom's `topology` is checked and
 *   acknowledged; the preset's overlay is used (measured to do better than its grid, see the README) unless
 *   `--topology follow` asks for Maelstrom's neighbours.
 * - `g-set`: a grow-only set (GSet).
 * - `pn-counter`: a PN-counter; it also serves Maelstrom's `g-counter` workload, whose requests look the same
 *   (a grow-only run of a PN-counter is a G-counter), so the two need not be told apart.
 * - `txn-rw-register`: read-committed transactions over LWW registers, every transaction one stamp and one
 *   delta (txn.ts).
 *
 * And two over consensus, Raft (../consensus/): `lin-kv`, a map of registers (lin-kv.ts), and `kafka`, per-key
 * logs (kafka.ts). lin-kv's `read` names a `key`, the others' never do, which tells the workloads apart from the
 * first read.
 */
import { GOSSIP_PRESETS, TOPOLOGY_MODES, gossipOptions, gossipService, type GossipPreset, type TopologyMode } from '../broadcast/gossip.js';
import { MessageLog } from '../broadcast/message-log.js';
import { PNCounter } from '../crdt/counters.js';
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

/**
 * Broadcast's options: the preset's, over Maelstrom's `topology` instead of the preset's overlay when
 * `--topology follow` says so (an empty overlay until the topology message names the neighbours).
 */
function broadcastOptions(flags: Readonly<Record<string, unknown>>): ReturnType<typeof gossipOptions> {
  const mode = flags['topology'] ?? 'own';
  if (!TOPOLOGY_MODES.includes(mode as TopologyMode)) throw new RangeError(`unknown topology mode ${JSON.stringify(mode)}; expected one of ${TOPOLOGY_MODES.join(', ')}`);
  const options = presetOptions(flags);
  return mode === 'follow' ? { ...options, topology: { kind: 'given', neighbours: {} } } : options;
}

export const BROADCAST_SERVICE = maelstromService<MessageLog>('broadcast', gossipService.lattice, (ctx, token, body) => {
  switch (body.type) {
    case 'broadcast': {
      const message = body['message'];
      if (!isMaelstromInt(message)) return malformed(token, `broadcast needs an integer message (within ±(2^53 - 1)), got ${shown(message)}`);
      const { delta } = ctx.value.append(ctx.writer, message);
      return reply(token, { type: 'broadcast_ok' }, delta);
    }
    case 'read':
      return reply(token, { type: 'read_ok', messages: ctx.value.payloads() });
    case 'topology': {
      const topology = body['topology'];
      const problem = topologyProblem(topology, ctx.nodes);
      if (problem !== null) return malformed(token, `topology: ${problem}`);
      // Used only with `--topology follow` (the engine applies a topology only over a `given` overlay).
      return { ...reply(token, { type: 'topology_ok' }), topology: { kind: 'given', neighbours: topology as Record<string, string[]> } };
    }
    default:
      return reply(token, { type: 'error', code: MaelstromError.notSupported, text: `broadcast does not handle ${body.type}` });
  }
});

export const GSET_SERVICE = maelstromService<GSet<string | number>>('g-set', crdtLattice(() => new GSet<string | number>()), (ctx, token, body) => {
  switch (body.type) {
    case 'add': {
      const element = body['element'];
      if (!isMaelstromInt(element)) return malformed(token, `add needs an integer element (within ±(2^53 - 1)), got ${shown(element)}`);
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
      if (!isMaelstromInt(delta)) return malformed(token, `add needs an integer delta (within ±(2^53 - 1)), got ${shown(delta)}`);
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
 * What Maelstrom's generators send as broadcast messages, g-set elements and counter deltas: integers
 * (its `Int`, a long), here those a double holds exactly, so what is acknowledged is what is read back.
 */
function isMaelstromInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** A value for an error text: JSON, cut short. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * Why `topology` is not what Maelstrom's `topology` carries ({node id: [node id]}, over the cluster's nodes), or
 * null. Neighbours outside the cluster are refused too: an overlay must name only members.
 */
export function topologyProblem(topology: unknown, nodes: readonly string[]): string | null {
  if (typeof topology !== 'object' || topology === null || Array.isArray(topology)) return `expected a map of node ids to lists of node ids, got ${shown(topology)}`;
  const members = new Set(nodes);
  for (const [node, neighbours] of Object.entries(topology)) {
    if (!members.has(node)) return `${JSON.stringify(node)} is not a node of this cluster`;
    if (!Array.isArray(neighbours)) return `the neighbours of ${node} are not a list: ${shown(neighbours)}`;
    for (const other of neighbours) {
      if (typeof other !== 'string' || !members.has(other)) return `${shown(other)}, a neighbour of ${node}, is not a node of this cluster`;
    }
  }
  return null;
}

/**
 * A workload hosting `service` over delta anti-entropy with the preset options: the one way a hosted workload is
 * made, so that a variant of a shipped one (a test's deliberate bug) runs exactly as the shipped one does.
 */
export function hostedWorkload<T>(
  service: ReplicatedService<T, ClientRequest, ClientReply>,
  claims: (body: Body) => boolean,
  options: (flags: Readonly<Record<string, unknown>>) => ReturnType<typeof gossipOptions> = presetOptions,
): Workload<SyncTimer> {
  return { name: service.name, claims, protocol: deltaSync(service), options, durable: service.durable === true };
}

/** A `read` without a `key`: the CRDT workloads' (lin-kv's names one). */
const isKeylessRead = (body: Body): boolean => isType(body, 'read') && !('key' in body);

export const WORKLOADS: readonly Workload[] = [
  hostedWorkload(BROADCAST_SERVICE, (body) => isType(body, 'broadcast', 'topology') || isKeylessRead(body), broadcastOptions),
  hostedWorkload(GSET_SERVICE, (body) => isKeylessRead(body) || (isType(body, 'add') && 'element' in body)),
  hostedWorkload(COUNTER_SERVICE, (body) => isKeylessRead(body) || (isType(body, 'add') && 'delta' in body)),
  hostedWorkload(TXN_SERVICE, claimsTxn),
  LIN_KV_WORKLOAD,
  KAFKA_WORKLOAD,
];
