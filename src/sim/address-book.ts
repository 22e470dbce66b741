/**
 * What ships, under the simulator: a process can only send to a peer whose address its driver holds. The
 * simulator's network reaches every node by id, so without this wrapper a protocol could "send" to a member it
 * has forgotten, or never heard an address for, and a bug that only the transport shows (a partition that never
 * heals because the peer's slot was dropped) would pass every sweep.
 *
 * The model follows the membership driver's contract (src/membership/types.ts, `MemberEvent`):
 * - the nodes a node starts with (a peers file) and the seeds of a `join` are always reachable (the driver has
 *   their addresses from its flags);
 * - a `member` event with an address makes the member reachable; `left` and `forgotten` make it unreachable
 *   again (the driver drops the peer then, and only then: a dead member stays reachable);
 * - a message from a node makes it reachable until it is `left` or `forgotten` (the transport's provisional slot:
 *   an inbound hello carries the sender's listen address);
 * - sends to anyone else are dropped and counted, as the transport drops a send to an unknown peer.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import type { MemberEvent, SwimRequest } from '../membership/types.js';

export interface AddressBookModel<O, R> {
  /** The member event among the protocol's outputs, or null for its other outputs. */
  readonly memberEvent: (output: O) => MemberEvent | null;
  /** The seeds a request joins through (empty for other requests). */
  readonly seedsOf: (request: R) => readonly NodeId[];
}

export interface AddressBook {
  /** Sends dropped because the sender held no address for the receiver. */
  readonly dropped: () => number;
  /** Whether `from` can currently send to `to`. */
  readonly canSend: (from: NodeId, to: NodeId) => boolean;
}

/** The protocol with every send filtered by the sender's address book; one wrapper per simulation. */
export function withAddressBook<S, M, O, Opt, R, T extends string>(
  protocol: Protocol<S, M, O, Opt, R, T>,
  model: AddressBookModel<O, R>,
): { readonly protocol: Protocol<S, M, O, Opt, R, T>; readonly book: AddressBook } {
  /** Per node: addresses from its flags (start nodes, seeds), kept for its life; addresses learnt from membership. */
  const fixed = new Map<NodeId, Set<NodeId>>();
  const learnt = new Map<NodeId, Set<NodeId>>();
  let dropped = 0;

  const canSend = (from: NodeId, to: NodeId): boolean => from === to || fixed.get(from)?.has(to) === true || learnt.get(from)?.has(to) === true;

  function filter(self: NodeId, effects: Effect<M, O, T>[]): Effect<M, O, T>[] {
    const out: Effect<M, O, T>[] = [];
    for (const e of effects) {
      if (e.kind === 'output') {
        const ev = model.memberEvent(e.value);
        const book = learnt.get(self)!;
        if (ev?.kind === 'member') {
          if (ev.member.state === 'left') book.delete(ev.member.id);
          else if (ev.member.address !== '') book.add(ev.member.id);
        } else if (ev?.kind === 'forgotten') {
          book.delete(ev.id);
        }
      } else if (e.kind === 'send' && !canSend(self, e.to)) {
        dropped++;
        continue;
      }
      out.push(e);
    }
    return out;
  }

  // The step sees only the state; remember whose it is.
  const selfOf = new WeakMap<object, NodeId>();
  const wrapped: Protocol<S, M, O, Opt, R, T> = {
    ...protocol,
    init: (ctx: InitContext<Opt>) => {
      // A (re)started process holds only what its flags give it.
      fixed.set(ctx.self, new Set(ctx.nodes));
      learnt.set(ctx.self, new Set());
      const r = protocol.init(ctx);
      selfOf.set(r.state as object, ctx.self);
      return { state: r.state, effects: filter(ctx.self, [...r.effects]) };
    },
    step: (state: S, input: Input<M, R, T>, now: number) => {
      const self = selfOf.get(state as object);
      assert(self !== undefined, 'address book: a state this wrapper did not start');
      if (input.kind === 'receive') learnt.get(self)!.add(input.from);
      if (input.kind === 'request') for (const s of model.seedsOf(input.body)) fixed.get(self)!.add(s);
      return filter(self, protocol.step(state, input, now));
    },
  };
  return { protocol: wrapped, book: { dropped: () => dropped, canSend } };
}

/** A member event among any outputs (`withMembership` mixes them with the inner protocol's), or null. */
export function memberEventOf(value: unknown): MemberEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { kind?: unknown; member?: unknown; id?: unknown };
  if (v.kind === 'member' && typeof v.member === 'object' && v.member !== null) return value as MemberEvent;
  if (v.kind === 'forgotten' && typeof v.id === 'string') return value as MemberEvent;
  return null;
}

/** The seeds of a `{membership: {op: 'join', seeds}}` request to a `withMembership` protocol; [] otherwise. */
export function membershipSeedsOf(request: unknown): readonly NodeId[] {
  if (typeof request !== 'object' || request === null || !('membership' in request)) return [];
  const m = (request as { membership: SwimRequest }).membership;
  return m.op === 'join' ? m.seeds : [];
}

/** The address-book model of a `withMembership` protocol, whatever its inner outputs and requests. */
export const COMPOSED_ADDRESS_BOOK: AddressBookModel<unknown, unknown> = { memberEvent: memberEventOf, seedsOf: membershipSeedsOf };
