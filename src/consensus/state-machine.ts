/**
 * What consensus replicates: a deterministic state machine. Raft (raft.ts) orders commands into one log; every
 * replica applies the committed prefix of that log, in order, to its own copy, so all copies pass through the same
 * states (the Raft paper's State Machine Safety, §5.4.3). Determinism is the machine's part of that bargain: the
 * same commands in the same order must give the same states and results on every replica and after every restart.
 */

/** A deterministic state machine replicated by consensus: every replica applies the same commands in the same order. */
export interface StateMachine<State, Command, Result> {
  readonly name: string;
  /** A fresh state (also the state a replica rebuilds from when it replays its log after a restart). */
  init(): State;
  /** Pure and deterministic; may mutate `state` in place. Called once per committed command, in log order. */
  apply(state: State, command: Command): Result;
  /** Guards commands decoded from the wire or the disk (they pass the msgpack codec: plain data only). */
  isCommand(value: unknown): value is Command;
}
