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
}

/**
 * A lattice over one of this project's CRDT types. Causal types (whose deltas carry a causal context) detect
 * redundancy exactly and cheaply: a delta is new iff its context holds a dot the state's does not. Plain types
 * compare before and after, which costs a copy of a small state (counters and grow-only sets stay small or are
 * compared elementwise by `equals`).
 */
export function crdtLattice<T extends AnyCrdt>(make: () => T): Lattice<T> {
  return {
    empty: make,
    absorb(state: T, delta: T): T | null {
      if (state instanceof Causal && delta instanceof Causal) {
        let novel = false;
        delta.context.forEachDot((replica, counter) => {
          if (!novel && !state.context.contains(replica, counter)) novel = true;
        });
        if (!novel) return null;
        // The join is typed per class; state and delta are the same class by construction (`make`).
        (state as Causal<never, never>).join(delta as never);
        return delta;
      }
      const before = (state as AnyCrdt).clone();
      joinAny(state, delta);
      return equalsAny(before, state) ? null : delta;
    },
    merge(into: T, delta: T): void {
      joinAny(into, delta);
    },
    clone: (value: T) => value.clone() as T,
    encode: (value: T) => encodeCrdt(value),
    decode: (bytes: Uint8Array) => decodeCrdt(bytes, make),
  };
}

// Every AnyCrdt has `join(other: Self)` and `equals(other: Self)`; TypeScript cannot relate the union's members
// to themselves, so these two helpers narrow once, here, with the invariant that both sides are one class.
function joinAny(into: AnyCrdt, delta: AnyCrdt): void {
  (into as { join(other: AnyCrdt): unknown }).join(delta);
}

function equalsAny(a: AnyCrdt, b: AnyCrdt): boolean {
  return (a as { equals(other: AnyCrdt): boolean }).equals(b);
}
