/**
 * RWORSet: a remove-wins observed-remove set (as `rwor_set` in Baquero's delta-enabled-crdts).
 *
 * Each element maps to dots tagged true (an add) or false (a remove). Both operations first drop the
 * observed tags of the element, then write their own under a fresh dot; an element is in the set when it
 * has tags and all of them are true. Concurrent add and remove leave both tags, one false: remove wins.
 * The price: a removed element keeps one false tag per concurrent remover (no tombstone per operation,
 * but one per removed element), since a later-arriving concurrent add must still lose to it.
 */
import { CausalContext, checkReplica } from './causal-context.js';
import { Causal } from './causal.js';
import { DotFun, DotMap } from './dot-store.js';
import { type Key, checkKey, isKey } from './data.js';
import { assert } from '../core/assert.js';

export const newTagFun = (): DotFun<boolean> => new DotFun<boolean>();

export class RWORSet<E extends Key = string> extends Causal<DotMap<E, DotFun<boolean>>, RWORSet<E>> {
  constructor(
    store: DotMap<E, DotFun<boolean>> = new DotMap<E, DotFun<boolean>>(newTagFun),
    context: CausalContext = new CausalContext(),
  ) {
    super(store, context);
  }

  make(store: DotMap<E, DotFun<boolean>>, context: CausalContext): RWORSet<E> {
    return new RWORSet<E>(store, context);
  }

  kind(): 'rworset' {
    return 'rworset';
  }

  add(replica: string, element: E): RWORSet<E> {
    return this.tag(replica, element, true);
  }

  /** Needs a replica id, unlike AWORSet.remove: the removal is recorded under a dot so that it can win. */
  remove(replica: string, element: E): RWORSet<E> {
    return this.tag(replica, element, false);
  }

  private tag(replica: string, element: E, present: boolean): RWORSet<E> {
    checkReplica(replica);
    checkKey(element);
    const delta = this.newDelta();
    this.store.get(element)?.forEachDot((dot) => delta.context.add(dot));
    const dot = this.context.next(replica);
    this.store.set(element, new DotFun<boolean>().set(dot, present));
    delta.store.set(element, new DotFun<boolean>().set(dot, present));
    delta.context.add(dot);
    return delta;
  }

  has(element: E): boolean {
    const tags = this.store.get(element);
    if (tags === undefined) return false;
    for (const entry of tags.values()) if (!entry.value) return false;
    return true;
  }

  value(): Set<E> {
    const elements = new Set<E>();
    for (const element of this.store.keys()) if (this.has(element)) elements.add(element);
    return elements;
  }

  /** Elements are keys and every tag is a boolean (true an add, false a remove). */
  override checkValues(): void {
    for (const [element, tags] of this.store.entriesIterator()) {
      assert(isKey(element), 'rworset: an element that is not a string or a number');
      for (const entry of tags.values()) assert(typeof entry.value === 'boolean', 'rworset: a tag that is not a boolean');
    }
  }
}
