/**
 * Errors a user can cause, and how they reach the user: one line on stderr, `chatterbox: <message>`, and an exit
 * status scripts can branch on. main prints every `CommandError`; anything else is a bug and keeps its stack.
 */
import { formatHostPort } from '../transport/host-port.js';

/**
 * The exit status of a check (harness, sim) that found nothing wrong but could not decide (Jepsen's
 * `:valid? :unknown`; Jepsen exits 2, which is our usage error).
 */
export const EXIT_UNKNOWN = 4;

/** A failure the user caused and can act on; `exitCode` is what the process exits with. */
export abstract class CommandError extends Error {
  abstract readonly exitCode: number;

  constructor(message: string) {
    // One line by construction: messages quote user input (file contents, flag values) that may hold newlines.
    super(oneLine(message));
  }
}

/**
 * A mistake in how the command was invoked (a flag, an environment variable, a peers or key file).
 * Exit 2, the conventional usage-error code, so scripts can tell "you called it wrong" apart from "the run
 * failed" (1) without parsing text.
 */
export class UsageError extends CommandError {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

/**
 * The command was invoked right but could not run, for a reason outside the program the user can fix: a port
 * in use, a data dir that cannot be created, a damaged store. Exit 1, the documented "the run failed".
 */
export class RunError extends CommandError {
  override readonly name = 'RunError';
  readonly exitCode = 1;
}

/** Collapses whitespace runs that contain line breaks, so a message stays one line however it was built. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Quotes user input for a message: JSON string syntax makes control characters and empty strings visible. */
export function quote(value: string, maxLength = 60): string {
  const clipped = value.length > maxLength ? `${value.slice(0, maxLength)}…` : value;
  return JSON.stringify(clipped);
}

/** The parts of commander's CommanderError this module reads (kept structural so tests need not build one). */
export interface CommanderFailure {
  readonly code: string;
  readonly message: string;
}

/**
 * Turns a commander parse failure into a UsageError: commander's "error: " prefix goes (main adds
 * "chatterbox: "), its two-line "(Did you mean --port?)" becomes one line, and the help command is named.
 */
export function usageErrorFromCommander(failure: CommanderFailure, commandPath: string): UsageError {
  const text = oneLine(failure.message.replace(/^error:\s*/i, ''));
  return new UsageError(`${text} (see ${commandPath} --help)`);
}

/** What Node's system errors carry (fs, net, dns), read structurally from an error or anything in its cause chain. */
interface SystemErrorFacts {
  readonly code: string;
  readonly syscall?: string;
  readonly address?: string;
  readonly port?: number;
  readonly hostname?: string;
}

/** Causes followed at most this deep: a chain is a few wrappers long, and a cycle must not hang a failing program. */
const MAX_CAUSE_DEPTH = 8;

/**
 * Node's system error codes: `ENOENT`, and the resolver's with an underscore, such as `EAI_AGAIN`; not Node's own
 * `ERR_*` codes, which a wrapper may carry in front of the system error that says what went wrong.
 */
const SYSTEM_ERROR_CODE = /^E(?!RR_)[A-Z0-9_]+$/;

/** The first system error (one with a string `code`) in `error`'s cause chain, wrappers included. */
export function systemErrorOf(error: unknown): SystemErrorFacts | undefined {
  let at: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && typeof at === 'object' && at !== null; depth++) {
    const fields = at as Record<string, unknown>;
    if (typeof fields['code'] === 'string' && SYSTEM_ERROR_CODE.test(fields['code'])) {
      return {
        code: fields['code'],
        ...(typeof fields['syscall'] === 'string' ? { syscall: fields['syscall'] } : {}),
        ...(typeof fields['address'] === 'string' ? { address: fields['address'] } : {}),
        ...(typeof fields['port'] === 'number' ? { port: fields['port'] } : {}),
        ...(typeof fields['hostname'] === 'string' ? { hostname: fields['hostname'] } : {}),
      };
    }
    at = fields['cause'];
  }
  return undefined;
}

/** "not found", "is a directory", ...: the reason a file could not be read or written, for a one-line message. */
export function fileErrorText(error: unknown): string {
  switch (systemErrorOf(error)?.code) {
    case 'ENOENT':
      return 'not found';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'on a read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'EFBIG':
      return 'is far larger than such a file can be (is it the right file?)';
    default:
      return `cannot be read (${error instanceof Error ? oneLine(error.message) : String(error)})`;
  }
}

/**
 * Why a server could not listen, as one line naming the address (`cannot listen on 127.0.0.1:3000: the address
 * is already in use`), or undefined when `error` is not a failure to listen.
 */
export function listenErrorText(error: unknown): string | undefined {
  const facts = systemErrorOf(error);
  if (facts === undefined) return undefined;
  if (facts.syscall === 'getaddrinfo' && (facts.code === 'ENOTFOUND' || facts.code === 'EAI_AGAIN')) {
    return `cannot listen on ${facts.hostname === undefined ? 'that host' : quote(facts.hostname)}: no such host name`;
  }
  if (facts.syscall !== 'listen' && facts.syscall !== 'bind') return undefined;
  const where = facts.address === undefined ? 'that address' : formatHostPort(facts.address, facts.port ?? '?');
  const why: Record<string, string> = {
    EADDRINUSE: 'the address is already in use (is another process listening on that port?)',
    EADDRNOTAVAIL: 'no network interface of this machine has that address',
    EACCES: 'permission denied (ports below 1024 need privileges)',
    EPERM: 'permission denied',
    EAFNOSUPPORT: 'this machine does not support that address family',
  };
  return `cannot listen on ${where}: ${why[facts.code] ?? facts.code}`;
}

/** A failure to listen as a RunError naming the flags that chose the address, or undefined for any other error. */
export function listenRunError(error: unknown, flags: string): RunError | undefined {
  const text = listenErrorText(error);
  return text === undefined ? undefined : new RunError(`${flags}: ${text}`);
}
