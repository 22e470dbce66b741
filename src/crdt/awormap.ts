/**
 * AWORMap: an add-wins observed-remove map from keys to causal CRDTs (CCounter, AWORSet, RWORSet,
 * MVRegister, EWFlag, a CausalRecord, or another AWORMap).
 *
 * The store is a DotMap from keys to the values' own dot stores, all under the map's one causal context.
 * `update(key, fn)` hands `fn` a view of the key's value (the key's sub-store, the map's context) and embeds
 * the delta `fn` returns under the key. `remove(key)` drops every dot observed under the key, which resets
 * the value: what survives a concurrent update is only that update's effect (new dots the removal never
 * saw), so the key stays (add wins) and holds what the remover had not seen. A key is present while its
 * value's store is non-empty; removed keys leave only dots in the context.
 */
import { CausalContext, dotKey } from './causal-context.js';
import { Causal, type CausalKind } from './causal.js';
import { DotMap, type DotStore } from './dot-store.js';
import { type Key, checkKey, isKey } from './data.js';
import { assert } from '../core/assert.js';

/**
 * A value type of a map. The store type parameter is erased to `any` because a map never looks inside its
 * values' stores: it only hands a store back to the same value type (through `make`) or to the store's own
 * methods. Recovering it would need an inferred type parameter that TypeScript cannot thread through F-bounds.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCausal = Causal<any, any>;

/** The type of `value()` of a value type. */
export type ValueOf<V extends AnyCausal> = ReturnType<V['value']>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see AnyCausal
type AnyStore = DotStore<any>;

export class AWORMap<K extends Key, V extends AnyCausal> extends Causal<DotMap<K, AnyStore>, AWORMap<K, V>> {
  private readonly factory: () => V;
  /** An empty value from the factory: its `make` builds views, its store's `empty` builds sub-stores. */
  private readonly template: V;

  /**
   * `factory` makes an empty value: it fixes the value type (`() => new CCounter()`,
   * `() => new AWORMap(() => new AWORSet())`). It is called once per map, not per key. The other parameters
   * are for `make` (a map's deltas and clones reuse its template instead of calling the factory again).
   */
  constructor(factory: () => V, store?: DotMap<K, AnyStore>, context?: CausalContext, template?: V) {
    template ??= factory();
    super(store ?? new DotMap<K, AnyStore>(() => template.store.empty() as AnyStore), context ?? new CausalContext());
    this.factory = factory;
    this.template = template;
  }

  make(store: DotMap<K, AnyStore>, context: CausalContext): AWORMap<K, V> {
    return new AWORMap<K, V>(this.factory, store, context, this.template);
  }

  kind(): CausalKind {
    return { map: this.template.kind() };
  }

  /** The value factory (used by the codec and by callers that build maps like this one). */
  valueFactory(): () => V {
    return this.factory;
  }

  /**
   * Applies `fn` to the value under `key` (an empty value if absent) and returns the map's delta.
   * `fn` must return the delta of the mutation it made (what the value's mutator returned, or the join of
   * several such deltas), never the value it was given; the map takes ownership of that delta.
   */
  update(key: K, fn: (value: V) => V): AWORMap<K, V> {
    checkKey(key);
    const existing = this.store.get(key);
    const store: AnyStore = existing ?? this.template.store.empty();
    const view: V = this.template.make(store, this.context);
    // The value mutates `store` in place; recording the dots it generates keeps the owner index complete
    // even if `fn` returns less than its whole delta.
    const { result: valueDelta, dots: added } = this.context.record(() => fn(view));
    // Additions are indexed before anything can throw: the map must stay consistent with what `fn` did.
    if (existing === undefined) {
      if (!store.isEmpty()) this.store.set(key, store); // indexes every dot of the new value
    } else {
      for (const dot of added) this.store.noteAdded(key, dot);
    }
    if ((valueDelta as unknown) === view || valueDelta.context === this.context) {
      // Its context is the whole map's: embedding it would remove other keys' dots wherever it is joined.
      throw new TypeError('AWORMap.update: the function must return the delta of its mutation, not the value');
    }
    if (existing !== undefined) {
      // Dots the delta's context covers but its store lacks are the ones the mutation removed (possibly
      // just added: an add then a remove inside `fn`).
      const kept = new Set<string>();
      (valueDelta.store as AnyStore).forEachDot((dot) => kept.add(dotKey(dot.replica, dot.counter)));
      valueDelta.context.forEachDot((replica, counter) => {
        if (!kept.has(dotKey(replica, counter))) this.store.noteRemoved(key, { replica, counter });
      });
      if (store.isEmpty()) this.store.delete(key);
    }
    const delta = this.newDelta();
    const sub = valueDelta.store as AnyStore;
    if (!sub.isEmpty()) delta.store.set(key, sub);
    delta.context.join(valueDelta.context);
    return delta;
  }

  /** Removes `key`, resetting its value: every dot observed under it is dropped. */
  remove(key: K): AWORMap<K, V> {
    const delta = this.newDelta();
    const store = this.store.get(key);
    if (store === undefined) return delta;
    store.forEachDot((dot) => delta.context.add(dot));
    this.store.delete(key);
    return delta;
  }

  /** Removes every observed key. */
  clear(): AWORMap<K, V> {
    return this.removeAll();
  }

  has(key: K): boolean {
    return this.store.has(key);
  }

  /**
   * A view of the value under `key`, for reading. It shares this map's state: mutate through `update`,
   * which also keeps key presence right.
   */
  get(key: K): V | undefined {
    const store = this.store.get(key);
    return store === undefined ? undefined : this.template.make(store, this.context);
  }

  keys(): IterableIterator<K> {
    return this.store.keys();
  }

  get size(): number {
    return this.store.size;
  }

  /** Keys are keys, and each value's own invariants hold (checked through a view, under the map's context). */
  override checkValues(): void {
    for (const [key, store] of this.store.entriesIterator()) {
      assert(isKey(key), 'awormap: a key that is not a string or a number');
      this.template.make(store, this.context).checkValues();
    }
  }

  value(): Map<K, ValueOf<V>> {
    const result = new Map<K, ValueOf<V>>();
    for (const [key, store] of this.store.entriesIterator()) {
      result.set(key, this.template.make(store, this.context).value() as ValueOf<V>);
    }
    return result;
  }
}
