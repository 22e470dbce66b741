/**
 * What every subcommand's commander definition shares: help and error conventions, and the option values type.
 * The validators of flag values are in flags.ts; the flags that place a node in its cluster in place-flags.ts.
 */
import { Command, CommanderError } from 'commander';
import { UsageError, usageErrorFromCommander } from '../platform/user-errors.js';

/** What commander hands over: strings for value flags, `true` for switches, absent when not given. */
export type OptionValues = Readonly<Record<string, unknown>>;

export type Env = Readonly<Record<string, string | undefined>>;

/** `chatterbox node` for a subcommand, `chatterbox` for the program: how messages name the command. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let at: Command | null = cmd; at !== null; at = at.parent) names.unshift(at.name());
  // A subcommand parsed on its own (parseNodeArgv) has no parent, but the user still types `chatterbox node`.
  if (names[0] !== 'chatterbox') names.unshift('chatterbox');
  return names.join(' ');
}

/** Commander outcomes that are not usage errors: help or the version was asked for and printed. */
export function isHelpOrVersion(error: unknown): boolean {
  return error instanceof CommanderError && ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
}

/**
 * Applied to every command. Help is `--help` only: `-h` is the host, as in the original chatterbox.
 * Commander's own parse errors become UsageErrors naming the command; help and version stay CommanderErrors
 * for main to map to exit 0 (or 2 when help was shown because no command was given).
 */
export function configureCommand(cmd: Command): Command {
  return cmd
    .helpOption('--help', 'show this help and exit')
    .exitOverride((error) => {
      if (isHelpOrVersion(error)) throw error;
      throw usageErrorFromCommander(error, commandPath(cmd));
    })
    .configureOutput({ outputError: () => {} }) // main prints the one-line message itself
    .showSuggestionAfterError(true);
}

/** What stops a long-running command: ^C, a kill, and the terminal going away. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs `body` with a signal that SIGINT, SIGTERM or SIGHUP aborts, and removes those handlers once it settles: how a
 * long-running command (chat, ranges serve, harness) stops cleanly with an exit status of its own. SIGHUP too,
 * because the harness's nodes run in process groups of their own (src/supervisor/), which a closing terminal does
 * not reach: the harness must stop them itself.
 */
export async function untilInterrupted<T>(body: (interrupt: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = new AbortController();
  const onSignal = (): void => interrupt.abort();
  for (const signal of STOP_SIGNALS) process.once(signal, onSignal);
  try {
    return await body(interrupt.signal);
  } finally {
    for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
  }
}

/**
 * Parses a subcommand's arguments (those after its name) as `cmd` defines them, without output or exit, for
 * tests and callers that want the values: throws UsageError, or commander's CommanderError for --help.
 */
export function parseQuietly(cmd: Command, argv: readonly string[]): Command {
  return cmd.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} }).parse([...argv], { from: 'user' });
}

