/**
 * The `chatterbox` program: parses the command line, runs one subcommand, exits with its status. main.ts runs it.
 *
 * Exit statuses: what the subcommand returned; for an error the user caused (a CommandError: 2 for a usage error,
 * 1 for a run that could not start) the error's, printed as one line `chatterbox: <message>` on stderr; 1 for an
 * unexpected internal error (a bug), printed with its stack.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CommandError } from '../platform/user-errors.js';
import { configureCommand } from './command.js';

/**
 * Every subcommand, in help order, each imported only when needed: a process started as `chatterbox maelstrom`
 * (25 of them at once under Maelstrom, each with 10 s to answer init) or `chatterbox node` (whose deadlines count
 * from process start) loads its own command and nothing else.
 */
const SUBCOMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Command>]> = [
  ['node', async () => (await import('./node-command.js')).nodeCommand()],
  ['cluster', async () => (await import('./cluster-command.js')).clusterCommand()],
  ['sim', async () => (await import('./sim-command.js')).simCommand()],
  ['chat', async () => (await import('./chat-command.js')).chatCommand()],
  ['maelstrom', async () => (await import('./maelstrom-command.js')).maelstromCommand()],
  ['ranges', async () => (await import('./ranges-command.js')).rangesCommand()],
  ['harness', async () => (await import('./harness-command.js')).harnessCommand()],
];

function packageVersion(): string {
  try {
    // dist/src/cli/program.js → the package root, where package.json is also in a published package. (Bundled,
    // this module keeps its own URL: see tools/bundle-cli.mjs.)
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') return parsed.version;
  } catch {
    // A missing or odd package.json must not stop the program; only --version is affected.
  }
  return 'unknown';
}

/**
 * The program with the subcommand `argv` names first, alone: it parses and helps exactly as it would among the
 * others (a subcommand's options, help and errors are its own). Anything else (`--help`, `help <command>`, no
 * command, an unknown one) gets every subcommand, to list them or suggest one.
 */
async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = configureCommand(new Command('chatterbox'))
    .description('Nodes that agree on shared state: the chatterbox agreement job and its tools.')
    .version(packageVersion(), '--version', 'print the version and exit');
  const named = SUBCOMMANDS.find(([name]) => name === argv[2]);
  const needed = named === undefined ? SUBCOMMANDS : [named];
  for (const command of await Promise.all(needed.map(([, load]) => load()))) program.addCommand(command);
  return program;
}

/** Resolves once everything written so far has been handed to the OS, so process.exit cannot cut it off. */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((done) => {
    stream.write('', () => done());
  });
}

async function main(): Promise<number> {
  // `chatterbox … --help | head`: the reader left; stop quietly instead of crashing on EPIPE. A command that must
  // react otherwise (the Maelstrom node) replaces this handler.
  if (process.stdout.listenerCount('error') === 0) {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  try {
    await (await buildProgram(process.argv)).parseAsync(process.argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommandError) {
      process.stderr.write(`chatterbox: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof CommanderError) {
      // Help or version, already printed: asked for (exit code 0 from commander), or shown because no
      // command was given (commander says 1), which is a usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`chatterbox: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

const code = await main();
await Promise.all([flush(process.stdout), flush(process.stderr)]);
// Explicit exit: a node's sockets or timers left behind by a failed run must not keep the process alive.
process.exit(code);
