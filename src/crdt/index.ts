/**
 * Delta-state CRDTs (Almeida, Shoker, Baquero, "Delta State Replicated Data Types", 2016).
 *
 * API shape, chosen for allocation-light hot paths:
 * - A state is a mutable class instance. A mutator (`add`, `increment`, `write`, `update`, …) mutates `this`
 *   and returns its delta: a new, small instance of the same type. The mutation equals the join of the old
 *   state with that delta, so shipping deltas (or whole states) and joining them converges.
 * - `join(other)` mutates `this` (and returns it); it never keeps references to `other`'s mutable parts, so
 *   `other` can be reused. `clone()` gives an independent copy when an immutable snapshot is needed.
 * - `value()` is the user-facing read; `equals(other)` compares states (what the lattice laws speak of).
 * - `encode(state)` / `decode(bytes)` is the binary form of states and deltas alike.
 *
 *   const set = new AWORSet<string>();
 *   const delta = set.add('r1', 'x');          // set is {x}; delta is the add alone
 *   replica2.join(delta);                      // ship `encode(delta)` in practice
 *
 *   const map = new AWORMap<string, CCounter>(() => new CCounter());
 *   const d = map.update('k', (counter) => counter.increment('r1', 3));
 *
 * Causal types (CCounter, AWORSet, RWORSet, MVRegister, EWFlag, AWORMap, CausalRecord) share one kernel: a
 * causal context (causal-context.ts) and dot stores (dot-store.ts); they can be the values of an AWORMap and
 * the fields of a CausalRecord (named fields under one context). GCounter, PNCounter, GSet and LWWRegister
 * are plain join-semilattices; they cannot be map values, because a map's observed-remove reset needs
 * values made of dots.
 */
export { type Dot, CausalContext, dotKey, compareDots } from './causal-context.js';
export { type DotStore, type DotObserver, type DotValue, DotSet, DotFun, DotMap, collectDots } from './dot-store.js';
export { type Crdt, type Kind, type CausalKind, Causal, kindEquals, kindName } from './causal.js';
export { type Key, type PlainData, isPlainData, dataEquals } from './data.js';
export { GCounter, PNCounter, CCounter } from './counters.js';
export { GSet } from './gset.js';
export { AWORSet } from './aworset.js';
export { RWORSet } from './rworset.js';
export { MVRegister, LWWRegister, type LWWWrite, compareWrites } from './registers.js';
export { EWFlag } from './ewflag.js';
export { AWORMap, type AnyCausal, type ValueOf } from './awormap.js';
export { CausalRecord, DotRecord, type RecordFields, type FieldFactories, type RecordTemplates } from './record.js';
export { type AnyCrdt, type DecodeOptions, DecodeError, FORMAT, encode, decode, instantiate } from './codec.js';
