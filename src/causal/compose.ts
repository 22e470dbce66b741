/**
 * Plumbing for a protocol that wraps another (a layer over reliable broadcast): the wrapper forwards init and
 * step to the inner protocol and passes its effects on, except outputs, which the wrapper interprets.
 */
import type { Effect } from '../protocol/types.js';

/**
 * The inner protocol's effects as the wrapper's, in order: sends, timers, logs and halts as they are (they do not
 * mention the output type; the wrapper's timer names include the inner's), each output replaced by whatever
 * `onOutput` appends to `into`.
 */
export function liftEffects<Msg, InnerOut, Out, InnerTimer extends string, Timer extends string>(
  effects: readonly Effect<Msg, InnerOut, InnerTimer>[],
  onOutput: (value: InnerOut, into: Effect<Msg, Out, Timer | InnerTimer>[]) => void,
): Effect<Msg, Out, Timer | InnerTimer>[] {
  const into: Effect<Msg, Out, Timer | InnerTimer>[] = [];
  for (const effect of effects) {
    if (effect.kind === 'output') onOutput(effect.value, into);
    else into.push(effect);
  }
  return into;
}
