/**
 * STUB of the membership contract, replaced by the `swim` branch's SWIM + Lifeguard protocol when it is merged:
 * the contract's types, and a protocol that only knows the nodes it started with and those that join through
 * it (no failure detection). It exists so the composition (compose.ts) can be written and type-checked first.
 */
import { compareNodeIds, type NodeId } from '../core/ids.js';
import type { Effect, Protocol } from '../protocol/types.js';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';
export interface Member {
  readonly id: NodeId;
  readonly address: string;
  readonly incarnation: number;
  readonly state: MemberState;
}
export type SwimRequest = { readonly op: 'join'; readonly seeds: readonly NodeId[] } | { readonly op: 'leave' };
export type MemberEvent = { readonly kind: 'member'; readonly member: Member };
export interface SwimOptions {
  readonly address: string;
  readonly probeIntervalMs: number;
}
export const DEFAULT_SWIM_OPTIONS: Omit<SwimOptions, 'address'> = { probeIntervalMs: 1000 };
export type SwimTimer = 'probe';
export type SwimMsg = { readonly t: 'members'; readonly members: readonly Member[] };
export interface SwimState {
  readonly self: NodeId;
  readonly members: Map<NodeId, Member>;
}

export function membersOf(state: SwimState): readonly Member[] {
  return [...state.members.values()].sort((a, b) => compareNodeIds(a.id, b.id));
}

type E = Effect<SwimMsg, MemberEvent, SwimTimer>;

function merge(state: SwimState, members: readonly Member[], effects: E[]): void {
  for (const m of members) {
    const known = state.members.get(m.id);
    if (known !== undefined && known.incarnation >= m.incarnation && known.state === m.state) continue;
    state.members.set(m.id, m);
    effects.push({ kind: 'output', value: { kind: 'member', member: m } });
  }
}

export const swimProtocol: Protocol<SwimState, SwimMsg, MemberEvent, SwimOptions, SwimRequest, SwimTimer> = {
  name: 'swim-stub',
  init(ctx) {
    const members = new Map<NodeId, Member>();
    for (const id of ctx.nodes) members.set(id, { id, address: id === ctx.self ? ctx.options.address : '', incarnation: 0, state: 'alive' });
    return { state: { self: ctx.self, members }, effects: [] };
  },
  step(state, input) {
    const effects: E[] = [];
    if (input.kind === 'request') {
      const self = state.members.get(state.self)!;
      if (input.body.op === 'leave') {
        const left: Member = { ...self, incarnation: self.incarnation + 1, state: 'left' };
        state.members.set(state.self, left);
        for (const m of state.members.values()) if (m.id !== state.self) effects.push({ kind: 'send', to: m.id, msg: { t: 'members', members: [left] } });
      } else {
        for (const seed of input.body.seeds) if (seed !== state.self) effects.push({ kind: 'send', to: seed, msg: { t: 'members', members: membersOf(state) } });
      }
    } else if (input.kind === 'receive') {
      const before = state.members.size;
      merge(state, input.msg.members, effects);
      if (state.members.size > before) {
        for (const m of state.members.values()) if (m.id !== state.self) effects.push({ kind: 'send', to: m.id, msg: { t: 'members', members: membersOf(state) } });
      }
    }
    return effects;
  },
  isMessage: (value: unknown): value is SwimMsg => typeof value === 'object' && value !== null && (value as { t?: unknown }).t === 'members',
  metrics: (state) => ({ members: state.members.size }),
  invariants: () => {},
};
