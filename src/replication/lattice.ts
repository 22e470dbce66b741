/**
 * What delta anti-entropy needs to know about the state it replicates: a join-semilattice with a wire form.
 *
 * `absorb` is the one place where a received delta meets the state. Returning only the part of the delta that
 * was new (or null) lets the engine skip buffering and forwarding redundant deltas, the "remove redundant state"
 * optimisation of Enes et al. (ICDE 2019); a lattice that cannot cheaply tell returns the whole delta when it
 * inflated the state at all.
 *
 * Digests are optional: a lattice with a compact summary of what a replica holds (a version vector) can repair
 * two replicas by exchanging summaries and shipping only the difference, instead of the whole state.
 */
import { encode as encodeCrdt, decode as decodeCrdt, type AnyCrdt } from '../crdt/codec.js';
import { Causal } from '../crdt/causal.js';
import type { AnyCausal } from '../crdt/awormap.js';
import { GCounter, PNCounter } from '../crdt/counters.js';
import { GSet } from '../crdt/gset.js';
import { CausalContext, type Dot } from '../crdt/causal-context.js';
import { DotFun, DotMap, DotSet, type DotStore } from '../crdt/dot-store.js';
import { DotRecord } from '../crdt/record.js';

export interface Lattice<T> {
  /** The bottom element (a fresh, empty replica or delta). */
  empty(): T;
  /** Joins `delta` into `state` (mutating it); returns the part of `delta` that was new to `state`, or null. */
  absorb(state: T, delta: T): T | null;
  /** Joins `delta` into an accumulator the engine owns (building a delta interval). */
  merge(into: T, delta: T): void;
  /** An independent copy (a buffered delta must not alias the state). */
  clone(value: T): T;
  encode(value: T): Uint8Array;
  /** Throws on malformed bytes; the engine drops such messages. */
  decode(bytes: Uint8Array): T;
  /** A compact summary of `state` (see `missing`). */
  digest?(state: T): Uint8Array;
  /** The part of `state` that a replica summarised by `digest` lacks, or null if none; throws on a bad digest. */
  missing?(state: T, digest: Uint8Array): T | null;
  /** Whether the replica summarised by `digest` holds something `state` lacks; throws on a bad digest. */
  lacks?(state: T, digest: Uint8Array): boolean;
  /**
   * Asserts the invariants of a replica's value (core/assert). Delta-sync's `invariants` calls it, so the simulator
   * checks it after every step; walking the whole value is fine there, and processes check only in debug runs.
   */
  invariants?(value: T): void;
}

/**
 * A lattice over one of this project's CRDT types.
 *
 * Redundancy is detected exactly. For causal types (whose deltas carry a causal context) a delta is new iff its
 * context holds a dot the state has not seen, or it drops a dot the state still holds (a removal: its context
 * has the dot, its store does not), and `absorb` returns only those parts (`absorbCausal`); this costs O(size of
 * the delta). Grow-only sets and counters compare the delta's elements or entries with the state's, also
 * O(size of the delta), and return the whole delta when any of it is new.
 *
 * The digest is the encoded state itself: correct for every type, and cheap for the small states these are used
 * for under anti-entropy (Maelstrom's counters and sets). Large replicated states should bring a compact digest
 * of their own, as the broadcast log does.
 */
export function crdtLattice<T extends AnyCrdt>(make: () => T): Lattice<T> {
  const decode = (bytes: Uint8Array): T => decodeCrdt(bytes, make);
  return {
    empty: make,
    absorb(state: T, delta: T): T | null {
      if (state instanceof Causal && delta instanceof Causal) return absorbCausal(state, delta) as T | null;
      if (!inflates(state, delta)) return null;
      joinAny(state, delta);
      return delta;
    },
    merge(into: T, delta: T): void {
      joinAny(into, delta);
    },
    clone: (value: T) => value.clone() as T,
    encode: (value: T) => encodeCrdt(value),
    decode,
    digest: (state: T) => encodeCrdt(state),
    missing: (state: T, digest: Uint8Array) => (inflates(decode(digest), state) ? state : null),
    lacks: (state: T, digest: Uint8Array) => inflates(state, decode(digest)),
    invariants: (value: T) => value.checkInvariants(),
  };
}

/**
 * Joins a causal `delta` into `state` and returns the part of it that was new, or null if none: the "remove
 * redundant state" step of Enes et al. (ICDE 2019). A replica relays what it buffers, so buffering whole
 * received deltas would relay again everything it already had, and hold it in memory until every neighbour
 * acknowledged it.
 *
 * The new part of (s', c') against a state (s, c) is (s' \ c, c''), where c'' holds the dots of c' that c has
 * not seen, plus the dots the delta removes (in c' but not s', still in s). Joining it into the state gives
 * exactly state ⊔ delta; whatever it leaves out the state already held, and the engine has buffered (or
 * received from) that earlier, so every neighbour still gets it. Costs O(size of the delta).
 */
export function absorbCausal<T extends AnyCausal>(state: T, delta: T): T | null {
  const context = new CausalContext();
  delta.context.forEachDot((replica, counter) => {
    if (isNews(state, delta, replica, counter)) context.insert(replica, counter);
  });
  if (context.isEmpty()) return null;
  // A fresh store joined with the delta's keeps exactly the delta's entries the state's context has not seen.
  const store: DotStore<unknown> = delta.store.empty();
  store.join(delta.store, state.context, delta.context);
  const novel = delta.make(store, context) as T;
  state.join(novel);
  return novel;
}

/** Whether joining `delta` into `state` would change it (see `crdtLattice`); both of one class. */
export function inflates<T extends AnyCrdt>(state: T, delta: T): boolean {
  if (state instanceof Causal && delta instanceof Causal) {
    let novel = false;
    delta.context.forEachDot((replica, counter) => {
      if (!novel && isNews(state, delta, replica, counter)) novel = true;
    });
    return novel;
  }
  if (state instanceof GSet && delta instanceof GSet) {
    for (const element of delta) if (!state.has(element)) return true;
    return false;
  }
  if (state instanceof GCounter && delta instanceof GCounter) return counterGrows(state, delta);
  if (state instanceof PNCounter && delta instanceof PNCounter) return counterGrows(state.positive, delta.positive) || counterGrows(state.negative, delta.negative);
  // Any other plain type: join a copy and compare (small states only).
  const joined = (state as AnyCrdt).clone();
  joinAny(joined, delta);
  return !equalsAny(joined, state);
}

/**
 * Whether a dot of `delta`'s context tells `state` something: the state has not seen it, or has seen it and still
 * holds it while the delta dropped it (a removal).
 */
function isNews(state: AnyCausal, delta: AnyCausal, replica: string, counter: number): boolean {
  if (!state.context.contains(replica, counter)) return true;
  const dot = { replica, counter };
  return !storeHolds(delta.store, dot) && storeHolds(state.store, dot);
}

/** Whether a dot store (of any kind, nested maps included) holds `dot`. */
function storeHolds(store: DotStore<unknown>, dot: Dot): boolean {
  if (store instanceof DotSet || store instanceof DotFun) return store.has(dot);
  if (store instanceof DotMap) return store.ownerOf(dot) !== undefined;
  if (store instanceof DotRecord) return store.names().some((name) => storeHolds(store.field(name), dot));
  let found = false;
  store.forEachDot((d) => {
    if (!found && d.replica === dot.replica && d.counter === dot.counter) found = true;
  });
  return found;
}

/** Whether some replica's count in `delta` is above its count in `state`. */
function counterGrows(state: GCounter, delta: GCounter): boolean {
  for (const [replica, count] of delta.entries()) if (count > state.get(replica)) return true;
  return false;
}

// Every AnyCrdt has `join(other: Self)` and `equals(other: Self)`; TypeScript cannot relate the union's members
// to themselves, so these two helpers narrow once, here, with the invariant that both sides are one class.
function joinAny(into: AnyCrdt, delta: AnyCrdt): void {
  (into as { join(other: AnyCrdt): unknown }).join(delta);
}

function equalsAny(a: AnyCrdt, b: AnyCrdt): boolean {
  return (a as { equals(other: AnyCrdt): boolean }).equals(b);
}
