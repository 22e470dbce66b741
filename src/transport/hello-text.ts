/**
 * What the text fields of a handshake hello (cluster id, node id, incarnation) may hold. A module of its own,
 * free of dependencies, so that the CLI can check peers files and flags against it without loading the
 * transport.
 */

/**
 * Cap on each text field of a hello, in UTF-16 code units (`string.length`): a peer refuses a longer one.
 * With three fields of at most 3 UTF-8 bytes per unit, a hello stays far below HANDSHAKE_MAX_FRAME_BYTES.
 */
export const MAX_HELLO_TEXT_CHARS = 256;

/** A UTF-16 surrogate without its partner: UTF-8 cannot carry it, so it would not arrive as sent. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `text` cannot travel in a hello field unchanged, or undefined when it can: longer than
 * MAX_HELLO_TEXT_CHARS (the peer refuses the hello), or holding a lone surrogate (MessagePack's UTF-8 turns it
 * into U+FFFD, so the peer would read another id). For checking configuration before any connection is made.
 */
export function helloTextProblem(text: string): string | undefined {
  if (text.length > MAX_HELLO_TEXT_CHARS) return `is ${text.length} characters long; the handshake carries at most ${MAX_HELLO_TEXT_CHARS}`;
  if (LONE_SURROGATE.test(text)) return 'holds a lone UTF-16 surrogate, which does not survive UTF-8 on the wire';
  return undefined;
}
