/**
 * EWFlag: an enable-wins flag. Enabled while it holds a dot; `enable` replaces the observed dots with a
 * fresh one, `disable` drops the observed ones. A concurrent enable has a dot the disable never saw, so the
 * flag ends up enabled: enable wins.
 */
import { CausalContext, checkReplica } from './causal-context.js';
import { Causal } from './causal.js';
import { DotSet } from './dot-store.js';

export class EWFlag extends Causal<DotSet, EWFlag> {
  constructor(store: DotSet = new DotSet(), context: CausalContext = new CausalContext()) {
    super(store, context);
  }

  make(store: DotSet, context: CausalContext): EWFlag {
    return new EWFlag(store, context);
  }

  kind(): 'ewflag' {
    return 'ewflag';
  }

  enable(replica: string): EWFlag {
    checkReplica(replica);
    const delta = this.newDelta();
    this.store.forEachDot((dot) => delta.context.add(dot));
    this.store.clear();
    const dot = this.context.next(replica);
    this.store.add(dot);
    delta.store.add(dot);
    delta.context.add(dot);
    return delta;
  }

  /** No replica id: disabling only removes observed dots. */
  disable(): EWFlag {
    return this.removeAll();
  }

  value(): boolean {
    return !this.store.isEmpty();
  }
}
