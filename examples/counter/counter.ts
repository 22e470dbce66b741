/**
 * A replicated grow-only counter, written only against chatterbox's public exports: the example of a protocol of
 * your own. It speaks Maelstrom's g-counter workload (`add` with a `delta` ≥ 0, `read` → the total), so the same
 * protocol runs under the simulator (sim.ts), as processes over TCP (tcp.ts) and as a Maelstrom node
 * (maelstrom.ts), and Maelstrom's own checker judges it.
 *
 * Theory: a state-based G-counter (Shapiro et al., 2011). Each replica counts its own adds in its own entry; the
 * value is the sum of the entries; merging takes the maximum of each entry. Merging is idempotent, commutative
 * and associative, so every node can send its whole state to every peer on a timer and nothing else: lost,
 * duplicated and reordered messages only delay convergence, and a partition heals by the next round after it.
 *
 * Restarts: the counter keeps nothing on disk, so a restarted node cannot know how far its old entry got. It
 * counts under a new entry, named by its id and the time it started (a time is an input, so this stays pure); the
 * old entry lives on at the peers that heard of it. Adds a node acknowledged and had not sent on before it
 * crashed are lost, which Maelstrom counts as indefinite operations.
 */
import { MaelstromError, type Body, type ClientReply, type ClientRequest, type Workload } from 'chatterbox/maelstrom';
import { assert, type Effect, type InitContext, type Input, type NodeId, type Protocol } from 'chatterbox/protocol';

/** Entries a counter holds (one per node start); a message that would take it past this is dropped. */
export const MAX_ENTRIES = 4096;
/** An entry's name is `<node id>@<start time>`; longer ones come from a broken or hostile peer. */
export const MAX_ENTRY_NAME_CHARS = 512;

export interface CounterOptions {
  /** How often each node sends its whole state to every peer. */
  readonly gossipMs: number;
}

export const DEFAULT_COUNTER_OPTIONS: CounterOptions = { gossipMs: 100 };

export interface CounterState {
  readonly peers: readonly NodeId[];
  /** This run's own entry. */
  readonly entry: string;
  readonly counts: Map<string, number>;
  readonly gossipMs: number;
}

/** The whole state, as entry-count pairs (plain arrays travel through every codec). */
export interface CounterMsg {
  readonly t: 'counts';
  readonly counts: ReadonlyArray<readonly [string, number]>;
}

export type CounterTimer = 'gossip';
type Out = Effect<CounterMsg, ClientReply, CounterTimer>;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function total(state: CounterState): number {
  let sum = 0;
  for (const count of state.counts.values()) sum += count;
  return sum;
}

function reply(token: number, body: Body): Out {
  return { kind: 'output', value: { token, body } };
}

function gossip(state: CounterState, now: number): Out[] {
  const counts = [...state.counts];
  const effects: Out[] = state.peers.map((to) => ({ kind: 'send', to, msg: { t: 'counts', counts } }));
  effects.push({ kind: 'timer', name: 'gossip', at: now + state.gossipMs });
  return effects;
}

function merge(state: CounterState, msg: CounterMsg): Out[] {
  let refused = 0;
  for (const [entry, count] of msg.counts) {
    const held = state.counts.get(entry);
    if (held === undefined && state.counts.size >= MAX_ENTRIES) refused++;
    else if (held === undefined || count > held) state.counts.set(entry, count);
  }
  return refused === 0 ? [] : [{ kind: 'log', level: 'warn', text: 'counter full: entries refused', fields: { refused, max: MAX_ENTRIES } }];
}

function request(state: CounterState, { token, body }: ClientRequest): Out[] {
  switch (body.type) {
    case 'add': {
      const delta = body['delta'];
      const own = state.counts.get(state.entry) ?? 0;
      if (!isCount(delta) || !Number.isSafeInteger(own + delta)) {
        return [reply(token, { type: 'error', code: MaelstromError.malformedRequest, text: 'add needs a whole delta ≥ 0' })];
      }
      state.counts.set(state.entry, own + delta);
      return [reply(token, { type: 'add_ok' })];
    }
    case 'read':
      return [reply(token, { type: 'read_ok', value: total(state) })];
    default:
      return [reply(token, { type: 'error', code: MaelstromError.notSupported, text: `the counter does not handle ${body.type}` })];
  }
}

export const counter: Protocol<CounterState, CounterMsg, ClientReply, CounterOptions, ClientRequest, CounterTimer> = {
  name: 'g-counter',
  init(ctx: InitContext<CounterOptions>) {
    const state: CounterState = {
      peers: ctx.nodes.filter((node) => node !== ctx.self),
      entry: `${ctx.self}@${ctx.now}`,
      counts: new Map(),
      gossipMs: ctx.options.gossipMs,
    };
    state.counts.set(state.entry, 0);
    return { state, effects: [{ kind: 'timer', name: 'gossip', at: ctx.now + state.gossipMs }] };
  },
  step(state: CounterState, input: Input<CounterMsg, ClientRequest, CounterTimer>, now: number): Out[] {
    switch (input.kind) {
      case 'receive':
        return merge(state, input.msg);
      case 'timer':
        return gossip(state, now);
      case 'request':
        return request(state, input.body);
    }
  },
  isMessage(value: unknown): value is CounterMsg {
    if (typeof value !== 'object' || value === null) return false;
    const { t, counts } = value as { t?: unknown; counts?: unknown };
    if (t !== 'counts' || !Array.isArray(counts) || counts.length > MAX_ENTRIES) return false;
    return counts.every(
      (pair: unknown) =>
        Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && pair[0].length <= MAX_ENTRY_NAME_CHARS && isCount(pair[1]),
    );
  },
  metrics(state: CounterState) {
    return { entries: state.counts.size, value: total(state) };
  },
  invariants(state: CounterState): void {
    assert(state.counts.size <= MAX_ENTRIES, 'counter: more entries than MAX_ENTRIES');
    assert(state.counts.has(state.entry), "counter: this run's own entry is missing");
    for (const count of state.counts.values()) assert(isCount(count), 'counter: an entry is not a whole count ≥ 0');
  },
};

/** Maelstrom's g-counter workload, served by `counter`. */
export const counterWorkload: Workload = {
  name: 'g-counter',
  claims: (body) => body.type === 'read' || (body.type === 'add' && 'delta' in body),
  protocol: counter,
  options: () => DEFAULT_COUNTER_OPTIONS,
};
