/**
 * `deltaSync(service)`: the concerns of this folder put together as one protocol. This file only dispatches:
 * each input goes to the handler of its concern, in the order the concerns depend on each other (a message's
 * incarnation first, then its own handler, then what the message tells retransmission).
 */
import { unreachable } from '../../core/assert.js';
import type { NodeId } from '../../core/ids.js';
import type { InitContext, Input, Protocol } from '../../protocol/types.js';
import { replicaOf } from '../replica-id.js';
import { bufferDelta } from './buffer.js';
import { armAntiEntropy, onAntiEntropyTimer, onDigest, onRepair } from './digests.js';
import { persistWrite, restoreValue, restoreWriter, restoresValue } from './durability.js';
import { flush, onAckTimer, onAck, onFlushTimer, onInterval, scheduleFlush } from './intervals.js';
import { checkInvariants } from './invariants.js';
import { applyOverlay, linkFor, observeIncarnation, startGreeting } from './links.js';
import { onGraft, onPrune } from './plumtree.js';
import { setMembers } from './members.js';
import { armRetransmit, resumeIfBackedOff, retransmitStalled } from './retransmit.js';
import { TIMER, newSyncState, serviceContext, type SyncState, type SyncTimer } from './state.js';
import { validateSyncOptions, type ReplicatedService, type SyncEffects, type SyncEnv, type SyncMsg, type SyncOptions } from './types.js';
import { isSyncMessage } from './wire.js';

/**
 * The replicated value's invariants (the lattice's) walk the whole value: checked after every step they made the
 * simulated runs of key ranges half as slow again. So a node checks them at its first check and then every this many,
 * and the engine's own, which are cheap, at every one. A broken value stays broken, so it is still caught, a few
 * steps late at most; the seed replays it.
 */
export const VALUE_CHECK_STRIDE = 8;

/**
 * The protocol, plus the pure handler a layer with a live member set calls when that set changes (members.ts):
 * `setMembers(state, nodes, now)` takes the members (self included, any order) and returns the effects.
 */
export interface DeltaSyncProtocol<T, Req, Out> extends Protocol<SyncState<T>, SyncMsg, Out, SyncOptions, Req, SyncTimer> {
  setMembers(state: SyncState<T>, nodes: readonly NodeId[], now: number): SyncEffects<Out>;
}

/** The protocol that replicates `service`'s lattice by delta anti-entropy. */
export function deltaSync<T, Req, Out>(service: ReplicatedService<T, Req, Out>): DeltaSyncProtocol<T, Req, Out> {
  const env: SyncEnv<T, Req, Out> = { service, lattice: service.lattice };
  /** Checks so far, per node state (a restart's new state starts again): beside the state, which checks must not change. */
  const checks = new WeakMap<SyncState<T>, number>();

  function invariants(state: SyncState<T>): void {
    const count = checks.get(state) ?? 0;
    checks.set(state, count + 1);
    checkInvariants(state, count % VALUE_CHECK_STRIDE === 0 ? env.lattice : undefined);
  }

  function init(ctx: InitContext<SyncOptions>): { state: SyncState<T>; effects: SyncEffects<Out> } {
    validateSyncOptions(ctx.options);
    const restoredWriter = restoreWriter(env, ctx.self, ctx.restored);
    const state = newSyncState<T>({
      self: ctx.self,
      nodes: ctx.nodes,
      options: ctx.options,
      incarnation: ctx.now,
      writer: restoredWriter ?? replicaOf(ctx.self, ctx.now),
      writerPersisted: restoredWriter !== undefined,
      value: restoreValue(env, ctx.restored),
    });
    applyOverlay(state, ctx.options.topology, ctx.now);
    const effects: SyncEffects<Out> = [];
    armAntiEntropy(env, state, ctx.now, effects);
    if (restoresValue(env, ctx.restored)) {
      // Writes made before the crash may never have left this node: offer the restored state as our first delta.
      bufferDelta(state, env.lattice.clone(state.value), null);
      scheduleFlush(env, state, ctx.now, effects);
    } else if (ctx.options.antiEntropyMs === null) {
      // Starting empty, perhaps after a crash that lost the state, and nothing else would make a neighbour that
      // saw an older incarnation of us resend (links.ts, "Greeting").
      startGreeting(state, effects);
      armRetransmit(state, ctx.now, effects);
    }
    return { state, effects };
  }

  function step(state: SyncState<T>, input: Input<SyncMsg, Req, SyncTimer>, now: number): SyncEffects<Out> {
    const effects: SyncEffects<Out> = [];
    switch (input.kind) {
      case 'request':
        onRequest(state, input.body, now, effects);
        break;
      case 'receive':
        onReceive(state, input.from, input.msg, now, effects);
        break;
      case 'timer':
        onTimer(state, input.name, now, effects);
        break;
    }
    return effects;
  }

  function onRequest(state: SyncState<T>, body: Req, now: number, effects: SyncEffects<Out>): void {
    const result = service.request(serviceContext(state, now), body);
    if (result.topology !== undefined && state.options.topology.kind === 'given') {
      applyOverlay(state, result.topology, now);
      // What was taken in before the overlay named these neighbours (a write before Maelstrom's topology) goes
      // out now: from the buffer, or as the full state where no neighbour held the buffer back.
      scheduleFlush(env, state, now, effects);
    }
    if (result.delta !== undefined && result.delta !== null) {
      persistWrite(env, state, effects);
      bufferDelta(state, result.delta, null);
      scheduleFlush(env, state, now, effects);
    }
    for (const value of result.outputs ?? []) effects.push({ kind: 'output', value });
  }

  function onReceive(state: SyncState<T>, from: NodeId, msg: SyncMsg, now: number, effects: SyncEffects<Out>): void {
    const link = linkFor(state, from, now, effects);
    if (link === null) return;
    const contact = observeIncarnation(state, link, msg.i, now);
    if (contact === 'stale') return;
    link.heardAt = now;
    switch (msg.t) {
      case 'd':
        onInterval(env, state, link, msg, now, effects);
        break;
      case 'a':
        if (msg.ri === state.incarnation) onAck(env, state, link, msg.ack, msg.gap, now, effects);
        break;
      case 'g':
        onDigest(env, state, link, msg.digest, msg.reply, effects);
        break;
      case 'r':
        onRepair(env, state, link, msg.p, now, effects);
        break;
      case 'graft':
        onGraft(state, link, now);
        break;
      case 'prune':
        onPrune(state, link);
        break;
    }
    // The restarted neighbour gets everything, stamped with its new incarnation, after its message (often a gap
    // acknowledgement from 0) has been applied, so one resend serves both.
    if (contact === 'restarted') scheduleFlush(env, state, now, effects);
    // After the message's own acknowledgement is applied.
    if (resumeIfBackedOff(state, link, now)) scheduleFlush(env, state, now, effects);
  }

  function onTimer(state: SyncState<T>, name: SyncTimer, now: number, effects: SyncEffects<Out>): void {
    switch (name) {
      case TIMER.flush:
        onFlushTimer(env, state, now, effects);
        break;
      case TIMER.ack:
        onAckTimer(state, now, effects);
        break;
      case TIMER.retransmit:
        if (retransmitStalled(state, now, effects)) flush(env, state, now, effects);
        break;
      case TIMER.antiEntropy:
        onAntiEntropyTimer(env, state, now, effects);
        break;
      default:
        // The kernel delivers only names this protocol set, and SyncTimer lists them all.
        unreachable(name, 'delta-sync: unknown timer');
    }
  }

  function metrics(state: SyncState<T>): Readonly<Record<string, number | string | boolean>> {
    let eager = 0;
    for (const link of state.links.values()) if (link.eager) eager++;
    return { buffered: state.buffer.length, eagerLinks: eager, links: state.links.size, ...state.stats };
  }

  function onMembers(state: SyncState<T>, nodes: readonly NodeId[], now: number): SyncEffects<Out> {
    const effects: SyncEffects<Out> = [];
    setMembers(env, state, nodes, now, effects);
    return effects;
  }

  return { name: service.name, init, step, isMessage: isSyncMessage, metrics, invariants, setMembers: onMembers };
}
