/**
 * A mistake in how the command was invoked (a flag, an environment variable, a peers or key file).
 * The program prints it as one line, `chatterbox: <message>`, and exits 2, the conventional usage-error code,
 * so scripts can tell "you called it wrong" apart from "the run failed" (1) without parsing text.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;

  constructor(message: string) {
    // One line by construction: messages quote user input (file contents, flag values) that may hold newlines.
    super(oneLine(message));
  }
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
