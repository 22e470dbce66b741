/**
 * AWORSet: an add-wins observed-remove set.
 *
 * Each element maps to the dots of the adds that put it there. `remove` drops the dots it has observed;
 * an add concurrent with a remove has a dot the remove never saw, so it survives the join: add wins.
 * Removed elements leave nothing in the store, only their dots in the causal context.
 */
import { CausalContext, checkReplica } from './causal-context.js';
import { Causal } from './causal.js';
import { DotMap, DotSet } from './dot-store.js';
import { type Key, checkKey, isKey } from './data.js';
import { assert } from '../core/assert.js';

export const newDotSet = (): DotSet => new DotSet();

export class AWORSet<E extends Key = string> extends Causal<DotMap<E, DotSet>, AWORSet<E>> {
  constructor(
    store: DotMap<E, DotSet> = new DotMap<E, DotSet>(newDotSet),
    context: CausalContext = new CausalContext(),
  ) {
    super(store, context);
  }

  make(store: DotMap<E, DotSet>, context: CausalContext): AWORSet<E> {
    return new AWORSet<E>(store, context);
  }

  kind(): 'aworset' {
    return 'aworset';
  }

  /** Adds `element` under a fresh dot of `replica`, superseding the adds observed so far. */
  add(replica: string, element: E): AWORSet<E> {
    checkReplica(replica);
    checkKey(element);
    const delta = this.newDelta();
    this.store.get(element)?.forEachDot((dot) => delta.context.add(dot));
    const dot = this.context.next(replica);
    this.store.set(element, new DotSet().add(dot));
    delta.store.set(element, new DotSet().add(dot));
    delta.context.add(dot);
    return delta;
  }

  /** Removes the observed adds of `element`. No replica id: a removal creates no dot. */
  remove(element: E): AWORSet<E> {
    const delta = this.newDelta();
    const dots = this.store.get(element);
    if (dots === undefined) return delta;
    dots.forEachDot((dot) => delta.context.add(dot));
    this.store.delete(element);
    return delta;
  }

  /** Removes every observed element. */
  clear(): AWORSet<E> {
    return this.removeAll();
  }

  has(element: E): boolean {
    return this.store.has(element);
  }

  get size(): number {
    return this.store.size;
  }

  [Symbol.iterator](): IterableIterator<E> {
    return this.store.keys();
  }

  value(): Set<E> {
    return new Set(this.store.keys());
  }

  /** Elements are keys (each present one holds dots: the kernel checks that no map value is empty). */
  override checkValues(): void {
    for (const element of this.store.keys()) assert(isKey(element), 'aworset: an element that is not a string or a number');
  }
}
