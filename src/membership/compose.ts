/**
 * Membership beside another protocol in one kernel: `withMembership(inner)` runs SWIM (this folder) and `inner`
 * as one protocol of the contract, so a node's key ranges (or chat) follow the live member list.
 *
 * Theory. The two halves share nothing but the node: one state holds both, messages are tagged with the half
 * they belong to (`{p: 'm'}` membership, `{p: 'x'}` the inner protocol), SWIM's timers are prefixed `swim:`, and
 * SWIM's persisted keys `swim:` (the inner protocol keeps its keys as they are, so an existing data dir still
 * restores). SWIM's member events, `forgotten` included, go out as outputs (drivers dial peers on them and drop a
 * peer only on `forgotten` or `left`, metrics count them)
 * and are turned into calls on the inner protocol, as pure as its `step`:
 * - `onMembers(state, live, now)` whenever the live set changes: the alive and suspect members, self included,
 *   sorted (`liveMemberIds`). A suspect is still a member (it may refute); a dead or left one is not. Delta-sync redraws its
 *   overlay over this set (replication/delta-sync/members.ts), so nodes that agree on it agree on the overlay.
 * - `onMemberStates(state, members, now)`, if the inner protocol has it, on every change of any member's state:
 *   every member SWIM knows with its state (dead and left included), for protocols that report them.
 * Graceful leave. `{membership: {op: 'leave'}}` first asks the inner protocol to hand off what it must
 * (`onLeave`: key ranges release this node's registrations as one delta), and tells SWIM only once the inner
 * protocol says that went out (`leaveReady`: its neighbours acknowledged it) or `LEAVE_DRAIN_MAX_MS` passed:
 * peers drop a member's messages once they see it leave, so announcing first could strand the release.
 *
 * Invariants: both halves' own, and the live set last handed to the inner protocol is SWIM's current one (so no
 * change was missed); a leave in progress has its deadline armed.
 */
import { assert } from '../core/assert.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import { liveMemberIds, membersOf, swimProtocol, type SwimState } from './swim.js';
import type { Member, MemberEvent, SwimMsg, SwimOptions, SwimRequest, SwimTimer } from './types.js';

/** What a protocol run beside membership implements (see the theory above). */
export interface MembershipAware<S, X, O, T extends string> {
  /** The live member set changed (alive and suspect members, self included, sorted). Pure, like step. */
  onMembers(state: S, members: readonly NodeId[], now: number): Effect<X, O, T>[];
  /** Any member's state changed: every member membership knows, with its state, sorted by id. */
  onMemberStates?(state: S, members: readonly Member[], now: number): Effect<X, O, T>[];
  /** A graceful leave begins: hand off what this node holds (it is still a member until `leaveReady`). */
  onLeave?(state: S, now: number): Effect<X, O, T>[];
  /** Whether what `onLeave` sent has been delivered, so the leave may be announced. Absent: at once. */
  leaveReady?(state: S): boolean;
}

export type WithMembershipMsg<X> = { readonly p: 'm'; readonly m: SwimMsg } | { readonly p: 'x'; readonly m: X };
/** Requests: membership's (join through seeds, leave) or the inner protocol's; `R` never has a `membership` key. */
export type WithMembershipRequest<R> = { readonly membership: SwimRequest } | R;
export interface WithMembershipOptions<Opt> {
  readonly swim: SwimOptions;
  readonly inner: Opt;
}

export interface WithMembershipState<S> {
  readonly swim: SwimState;
  readonly inner: S;
  /** The live set last handed to the inner protocol (at init: `ctx.nodes`, sorted). */
  live: readonly NodeId[];
  /** A graceful leave waiting for the inner protocol's hand-off, until its deadline. */
  leavingUntil: number | null;
}

/** The timer of a leave waiting for the inner protocol's hand-off. */
export const LEAVE_TIMER = 'membership:leave';
/** How long a leave waits for the inner protocol's hand-off before it is announced anyway (a cut-off node). */
export const LEAVE_DRAIN_MAX_MS = 5_000;
/** The prefix of SWIM's timers and of its keys in the durable store. */
const SWIM_PREFIX = 'swim:';

export type WithMembershipTimer<T extends string> = T | `swim:${SwimTimer}` | typeof LEAVE_TIMER;

type Out<O> = O | MemberEvent;
type Effects<X, O, T extends string> = Effect<WithMembershipMsg<X>, Out<O>, WithMembershipTimer<T>>[];

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function isMembershipRequest<R>(body: WithMembershipRequest<R>): body is { readonly membership: SwimRequest } {
  return typeof body === 'object' && body !== null && 'membership' in body;
}

/** `inner` beside SWIM in one protocol; its outputs plus every `MemberEvent`. */
export function withMembership<S, X, O, Opt, R, T extends string>(
  inner: Protocol<S, X, O, Opt, R, T> & MembershipAware<S, X, O, T>,
): Protocol<WithMembershipState<S>, WithMembershipMsg<X>, Out<O>, WithMembershipOptions<Opt>, WithMembershipRequest<R>, WithMembershipTimer<T>> {
  type E = Effects<X, O, T>;

  function liftInner(effects: readonly Effect<X, O, T>[], into: E): void {
    for (const e of effects) into.push(e.kind === 'send' ? { kind: 'send', to: e.to, msg: { p: 'x', m: e.msg } } : e);
  }

  function liftSwim(effects: readonly Effect<SwimMsg, MemberEvent, SwimTimer>[], into: E): boolean {
    let changed = false;
    for (const e of effects) {
      switch (e.kind) {
        case 'send':
          into.push({ kind: 'send', to: e.to, msg: { p: 'm', m: e.msg } });
          break;
        case 'timer':
          into.push({ kind: 'timer', name: `swim:${e.name}`, at: e.at });
          break;
        case 'persist':
          into.push({ kind: 'persist', key: SWIM_PREFIX + e.key, value: e.value });
          break;
        case 'output':
          changed = true;
          into.push(e);
          break;
        default:
          into.push(e);
      }
    }
    return changed;
  }

  /**
   * After a SWIM step: tell the inner protocol what changed. SWIM emits an event for every change of a member's
   * state (its own leave included), so a step without one leaves the live set as it was and costs nothing here; the
   * invariants check that after every simulated step. Members and pings are many, changes few: the sort of the
   * members stays off the per-message path.
   */
  function afterSwim(state: WithMembershipState<S>, events: boolean, now: number, into: E): void {
    if (!events) return;
    const live = liveMemberIds(state.swim);
    if (!sameIds(live, state.live)) {
      state.live = live;
      liftInner(inner.onMembers(state.inner, live, now), into);
    }
    if (inner.onMemberStates !== undefined) liftInner(inner.onMemberStates(state.inner, membersOf(state.swim), now), into);
  }

  function swimStep(state: WithMembershipState<S>, input: Input<SwimMsg, SwimRequest, SwimTimer>, now: number, into: E): void {
    afterSwim(state, liftSwim(swimProtocol.step(state.swim, input, now), into), now, into);
  }

  /** A leave in progress goes to SWIM once the inner protocol's hand-off is out, or at its deadline. */
  function finishLeaveIfReady(state: WithMembershipState<S>, now: number, into: E, deadline: boolean): void {
    if (state.leavingUntil === null) return;
    if (!deadline && inner.leaveReady !== undefined && !inner.leaveReady(state.inner)) return;
    state.leavingUntil = null;
    into.push({ kind: 'timer', name: LEAVE_TIMER, at: null });
    swimStep(state, { kind: 'request', body: { op: 'leave' } }, now, into);
  }

  function init(ctx: InitContext<WithMembershipOptions<Opt>>): { state: WithMembershipState<S>; effects: E } {
    const swimRestored = new Map<string, Uint8Array>();
    const innerRestored = new Map<string, Uint8Array>();
    for (const [key, value] of ctx.restored) {
      if (key.startsWith(SWIM_PREFIX)) swimRestored.set(key.slice(SWIM_PREFIX.length), value);
      else innerRestored.set(key, value);
    }
    const s = swimProtocol.init({ ...ctx, options: ctx.options.swim, restored: swimRestored });
    const i = inner.init({ ...ctx, options: ctx.options.inner, restored: innerRestored });
    const state: WithMembershipState<S> = { swim: s.state, inner: i.state, live: [...new Set(ctx.nodes)].sort(compareNodeIds), leavingUntil: null };
    const effects: E = [];
    liftInner(i.effects, effects);
    // Whatever SWIM knows at start beyond ctx.nodes (a restored member list) reaches the inner protocol now.
    afterSwim(state, liftSwim(s.effects, effects), ctx.now, effects);
    return { state, effects };
  }

  function step(state: WithMembershipState<S>, input: Input<WithMembershipMsg<X>, WithMembershipRequest<R>, WithMembershipTimer<T>>, now: number): E {
    const effects: E = [];
    switch (input.kind) {
      case 'receive':
        if (input.msg.p === 'm') swimStep(state, { kind: 'receive', from: input.from, msg: input.msg.m }, now, effects);
        else liftInner(inner.step(state.inner, { kind: 'receive', from: input.from, msg: input.msg.m } as Input<X, R, T>, now), effects);
        break;
      case 'timer':
        if (input.name === LEAVE_TIMER) finishLeaveIfReady(state, now, effects, true);
        else if (input.name.startsWith(SWIM_PREFIX)) swimStep(state, { kind: 'timer', name: input.name.slice(SWIM_PREFIX.length) as SwimTimer }, now, effects);
        else liftInner(inner.step(state.inner, { kind: 'timer', name: input.name as T } as Input<X, R, T>, now), effects);
        break;
      case 'request': {
        const body = input.body;
        if (!isMembershipRequest(body)) {
          liftInner(inner.step(state.inner, { kind: 'request', body } as Input<X, R, T>, now), effects);
        } else if (body.membership.op === 'leave' && inner.onLeave !== undefined) {
          if (state.leavingUntil === null) {
            liftInner(inner.onLeave(state.inner, now), effects);
            state.leavingUntil = now + LEAVE_DRAIN_MAX_MS;
            effects.push({ kind: 'timer', name: LEAVE_TIMER, at: state.leavingUntil });
          }
        } else {
          swimStep(state, { kind: 'request', body: body.membership }, now, effects);
        }
        break;
      }
    }
    finishLeaveIfReady(state, now, effects, false);
    return effects;
  }

  function isMessage(value: unknown): value is WithMembershipMsg<X> {
    if (typeof value !== 'object' || value === null) return false;
    const { p, m } = value as { p?: unknown; m?: unknown };
    return (p === 'm' && swimProtocol.isMessage(m)) || (p === 'x' && inner.isMessage(m));
  }

  function metrics(state: WithMembershipState<S>): Readonly<Record<string, number | string | boolean>> {
    const out: Record<string, number | string | boolean> = {};
    for (const [k, v] of Object.entries(swimProtocol.metrics(state.swim))) out[`swim.${k}`] = v;
    for (const [k, v] of Object.entries(inner.metrics(state.inner))) out[`${inner.name}.${k}`] = v;
    out['members.live'] = state.live.length;
    return out;
  }

  function invariants(state: WithMembershipState<S>): void {
    swimProtocol.invariants(state.swim);
    inner.invariants(state.inner);
    assert(sameIds(state.live, liveMemberIds(state.swim)), 'membership: the inner protocol was not told of a change of the live set');
    assert(state.leavingUntil === null || inner.onLeave !== undefined, 'membership: a leave waits on a protocol with no hand-off');
  }

  return { name: `${inner.name}+membership`, init, step, isMessage, metrics, invariants };
}
