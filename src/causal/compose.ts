/**
 * Plumbing for a protocol that wraps another (a layer over reliable broadcast): the wrapper forwards init and
 * step to the inner protocol and passes its effects on, except outputs, which the wrapper interprets.
 */
import type { Effect } from '../protocol/types.js';

/**
 * The inner protocol's effects as the wrapper's, in order: sends, timers, logs and halts as they are (they do not
 * mention the output type), each output replaced by whatever `onOutput` appends to `into`.
 */
export function liftEffects<Msg, InnerOut, Out>(
  effects: readonly Effect<Msg, InnerOut>[],
  onOutput: (value: InnerOut, into: Effect<Msg, Out>[]) => void,
): Effect<Msg, Out>[] {
  const into: Effect<Msg, Out>[] = [];
  for (const effect of effects) {
    if (effect.kind === 'output') onOutput(effect.value, into);
    else into.push(effect);
  }
  return into;
}
