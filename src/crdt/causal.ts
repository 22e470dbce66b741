/**
 * The shape every CRDT here shares, and the base class of the causal ones (a dot store plus its context).
 */
import { assert } from '../core/assert.js';
import { CausalContext } from './causal-context.js';
import type { DotStore } from './dot-store.js';

/**
 * The kinds of causal CRDTs: these can be values of an AWORMap, whose kind names its value kind, and fields
 * of a CausalRecord, whose kind names its fields (sorted by name) and their kinds.
 */
export type CausalKind =
  | 'ccounter'
  | 'aworset'
  | 'rworset'
  | 'mvregister'
  | 'ewflag'
  | { readonly map: CausalKind }
  | { readonly record: readonly (readonly [string, CausalKind])[] };

/** Every kind; the codec writes it in front of a state, so that nested maps decode without a schema. */
export type Kind = 'gcounter' | 'pncounter' | 'gset' | 'lwwregister' | CausalKind;

export function kindEquals(a: Kind, b: Kind): boolean {
  while (typeof a === 'object' && typeof b === 'object' && 'map' in a && 'map' in b) {
    a = a.map;
    b = b.map;
  }
  if (typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (!('record' in a) || !('record' in b)) return false; // a map and a record
  const mine = a.record;
  const theirs = b.record;
  if (mine.length !== theirs.length) return false;
  for (let i = 0; i < mine.length; i++) {
    const [name, kind] = mine[i] as readonly [string, CausalKind];
    const [otherName, otherKind] = theirs[i] as readonly [string, CausalKind];
    if (name !== otherName || !kindEquals(kind, otherKind)) return false;
  }
  return true;
}

/** `awormap<ccounter>`, `record{a:aworset,b:awormap<mvregister>}`, `gset`, … */
export function kindName(kind: Kind): string {
  if (typeof kind !== 'object') return kind;
  if ('map' in kind) return `awormap<${kindName(kind.map)}>`;
  return `record{${kind.record.map(([name, field]) => `${name}:${kindName(field)}`).join(',')}}`;
}

/**
 * What every type offers. `join` mutates `this` (and returns it); mutators mutate `this` and return their
 * delta, a new instance of the same type; `clone` gives an independent copy.
 */
export interface Crdt<Self> {
  kind(): Kind;
  value(): unknown;
  join(other: Self): this;
  clone(): Self;
  /** Equality of states (not only of values): what the lattice laws are stated with. */
  equals(other: Self): boolean;
  /**
   * Asserts what holds of every state the type's operations and validated decoding can reach (core/assert: a
   * failure is a bug here, never bad input). O(size of the state): for tests, the simulator and debug runs.
   */
  checkInvariants(): void;
}

/**
 * A causal CRDT: a dot store interpreted under a causal context. Inside an AWORMap, values share the map's
 * context: a value instance is then a view (the map's sub-store for a key, the map's context). Likewise the
 * fields of a CausalRecord share the record's context.
 */
export abstract class Causal<S extends DotStore<S>, Self extends Causal<S, Self>> implements Crdt<Self> {
  /** Exposed for maps and the codec; use the typed API instead of mutating these directly. */
  readonly store: S;
  readonly context: CausalContext;

  protected constructor(store: S, context: CausalContext) {
    this.store = store;
    this.context = context;
  }

  abstract kind(): CausalKind;
  abstract value(): unknown;

  /** A same-typed instance over the given parts (used by maps, deltas and the codec). */
  abstract make(store: S, context: CausalContext): Self;

  join(other: Self): this {
    if ((other as unknown) === this) return this;
    // Two views of one map or record (its context): the join would read every dot of this store as removed.
    assert(other.context !== this.context, 'a join of two views sharing one context (mutate values through update)');
    this.store.join(other.store, this.context, other.context);
    this.context.join(other.context);
    return this;
  }

  clone(): Self {
    return this.make(this.store.clone(), this.context.clone());
  }

  equals(other: Self): boolean {
    return this.store.equals(other.store) && this.context.equals(other.context);
  }

  /**
   * The kernel's invariants (the context canonical; every stored dot in it, held once; no empty map value; owner
   * indexes complete), then the type's own on its values (`checkValues`).
   */
  checkInvariants(): void {
    this.context.checkInvariants();
    this.store.checkInvariants(this.context, new Set());
    this.checkValues();
  }

  /**
   * The type's invariants on the values its store holds, beyond the kernel's (none by default). Public because a
   * map or record checks its values through views of them; the context is checked once, by `checkInvariants`.
   */
  checkValues(): void {}

  /** A new empty instance of the same type (with its own context): the start of a delta. */
  protected newDelta(): Self {
    return this.make(this.store.empty(), new CausalContext());
  }

  /** Removes everything observed (the delta's context holds every dot of the store). */
  protected removeAll(): Self {
    const delta = this.newDelta();
    this.store.forEachDot((dot) => delta.context.add(dot));
    this.store.clear();
    return delta;
  }
}
