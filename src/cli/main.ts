#!/usr/bin/env node
/**
 * The `chatterbox` program: parses the command line, runs one subcommand, exits with its status.
 *
 * Exit statuses: what the subcommand returned; 2 for a usage error, printed as one line
 * `chatterbox: <message>` on stderr; 1 for an unexpected internal error.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { chatCommand } from './chat-command.js';
import { clusterCommand } from './cluster-command.js';
import { UsageError } from './errors.js';
import { harnessCommand } from './harness-command.js';
import { maelstromCommand } from './maelstrom-command.js';
import { configureCommand, nodeCommand } from './node-command.js';
import { rangesCommand } from './ranges-command.js';
import { simCommand } from './sim-command.js';

function packageVersion(): string {
  try {
    // dist/src/cli/main.js → the package root, where package.json is also in a published package.
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') return parsed.version;
  } catch {
    // A missing or odd package.json must not stop the program; only --version is affected.
  }
  return 'unknown';
}

function buildProgram(): Command {
  const program = configureCommand(new Command('chatterbox'))
    .description('Nodes that agree on shared state: the chatterbox agreement job and its tools.')
    .version(packageVersion(), '--version', 'print the version and exit')
    .addCommand(nodeCommand())
    .addCommand(clusterCommand())
    .addCommand(simCommand())
    .addCommand(chatCommand())
    .addCommand(maelstromCommand())
    .addCommand(rangesCommand())
    .addCommand(harnessCommand());

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
    await buildProgram().parseAsync(process.argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof UsageError) {
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
