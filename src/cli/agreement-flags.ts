/**
 * What `chatterbox node` and `chatterbox cluster` share: the flags of an agreement run (durations, seed,
 * protocol, tick, verbosity), declared and validated once, and the pipe contract between a cluster and its nodes.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { AGREEMENT_PROTOCOLS, type AgreementProtocolName } from '../agreement/protocols.js';
import type { OptionValues } from './command.js';
import { flagOption, oneOf, parseSeconds, parseSeed, stringOption, wholeNumber } from './flags.js';

/**
 * Set by `chatterbox cluster` for its children, whose stdin is then a pipe from the parent: when it closes the
 * parent is gone (even if it was SIGKILLed and could not clean up), and the child exits instead of lingering.
 */
export const PARENT_PIPE_ENV = 'CHATTERBOX_PARENT_PIPE';

const MAX_TICK_MS = 60_000;

// From the one registry of protocols (pure modules, cheap to load; the runtime itself stays lazily imported).
export const PROTOCOLS = Object.keys(AGREEMENT_PROTOCOLS) as readonly AgreementProtocolName[];

export interface RunDefaults {
  readonly sendForSeconds: number;
  readonly waitForSeconds: number;
  readonly tickMs: number;
  readonly protocol: AgreementProtocolName;
}

/** The run options `node` and `cluster` share, validated. */
export interface RunArgs {
  readonly sendForMs: number;
  readonly waitForMs: number;
  /** As given (any size, may be negative); undefined → a random seed. Folded with seed32 later. */
  readonly seed: bigint | undefined;
  readonly tickMs: number;
  readonly protocol: AgreementProtocolName;
  readonly verbose: boolean;
}

function parseTickMs(flag: string, raw: string): number {
  return wholeNumber(flag, raw, 1, MAX_TICK_MS, ' of milliseconds');
}

function parseProtocol(flag: string, raw: string): AgreementProtocolName {
  return oneOf(flag, raw, PROTOCOLS);
}

/** A random 32-bit seed: it is folded to 32 bits anyway, and short numbers are easier to copy into a re-run. */
export function randomSeed(): bigint {
  return BigInt(randomBytes(4).readUInt32BE(0));
}

// Defaults live in the descriptions, not in commander, so that validation sees exactly what the user typed and
// the help shows `(default 3000)` rather than commander's quoted `(default: "3000")`.

/** The options `node` and `cluster` share; `defaults` differ between the two and are shown in the help. */
export function addRunOptions(cmd: Command, defaults: RunDefaults, verboseHelp = 'debug logs on stderr'): Command {
  return cmd
    .option('--send-for <seconds>', `seconds of sending messages, ≥ 0, fractions allowed (default ${defaults.sendForSeconds})`)
    .option('--wait-for <seconds>', `grace period in seconds after sending stops, > 0, fractions allowed (default ${defaults.waitForSeconds})`)
    .option('--with-seed <integer>', 'seed of the message values, any integer (default: a random seed, logged so the run can be repeated)')
    .option('--protocol <name>', `agreement protocol: ${PROTOCOLS.join(' or ')} (default ${defaults.protocol})`)
    .option('--tick-duration <ms>', `protocol tick in whole milliseconds, 1..${MAX_TICK_MS} (default ${defaults.tickMs})`)
    .option('-v, --verbose', verboseHelp);
}

export function runArgsFromOptions(opts: OptionValues, defaults: RunDefaults): RunArgs {
  const sendFor = stringOption(opts, 'sendFor', '--send-for');
  const waitFor = stringOption(opts, 'waitFor', '--wait-for');
  const seed = stringOption(opts, 'withSeed', '--with-seed');
  const tick = stringOption(opts, 'tickDuration', '--tick-duration');
  const protocol = stringOption(opts, 'protocol', '--protocol');
  return {
    sendForMs: sendFor === undefined ? defaults.sendForSeconds * 1000 : parseSeconds('--send-for', sendFor, true),
    waitForMs: waitFor === undefined ? defaults.waitForSeconds * 1000 : parseSeconds('--wait-for', waitFor, false),
    seed: seed === undefined ? undefined : parseSeed('--with-seed', seed),
    tickMs: tick === undefined ? defaults.tickMs : parseTickMs('--tick-duration', tick),
    protocol: protocol === undefined ? defaults.protocol : parseProtocol('--protocol', protocol),
    verbose: flagOption(opts, 'verbose'),
  };
}
