/**
 * What a JSON line may hold before a node takes it in: values it can keep and give back unchanged, and nesting
 * it can walk without recursion running out of stack.
 *
 * JavaScript numbers are IEEE doubles, so `JSON.parse` changes some numbers silently: `99999999999999999999999`
 * becomes 1e23, `9007199254740993` becomes …992, `1e400` becomes Infinity (written back as `null`), `1e-400`
 * becomes 0. A node that acknowledged such a value would later give back another one. So an integer literal must
 * be a safe integer (at most 2^53 − 1 in magnitude, as Maelstrom's `Int` is a long and zod's `int()` checks), and
 * any other number must stay finite and nonzero if written nonzero. Decimals that merely round (0.1 has no exact
 * double) are accepted: Maelstrom's own JSON reader parses them to doubles too.
 *
 * `JSON.parse` itself is iterative in V8, but `JSON.stringify` (every reply) and any recursive walk are not: a
 * 100,000-deep `echo` overflows the stack. So nesting is bounded (`MAX_JSON_DEPTH`), counted by one pass over the
 * text, without recursion.
 */

/**
 * Arrays and objects inside one another, the envelope included. Maelstrom's deepest requests (a transaction's
 * micro-operations inside the body inside the envelope) need 4; this leaves room for any payload a workload defines.
 */
export const MAX_JSON_DEPTH = 64;

/** Why the JSON text `line` holds something a node must refuse (see above), or null when it holds nothing such. */
export function jsonLineProblem(line: string): string | null {
  let depth = 0;
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(line, i + 1);
      continue;
    }
    if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > MAX_JSON_DEPTH) return `nested deeper than ${MAX_JSON_DEPTH} levels`;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      let end = i + 1;
      while (end < n && isNumberChar(line.charCodeAt(end))) end++;
      const problem = numberProblem(line.slice(i, end));
      if (problem !== null) return problem;
      i = end;
      continue;
    }
    i++;
  }
  return null;
}

/** Index just past the string whose contents start at `from` (or the end of the text, if it never closes). */
function endOfString(line: string, from: number): number {
  let i = from;
  for (;;) {
    const close = line.indexOf('"', i);
    if (close < 0) return line.length;
    // The quote is escaped when an odd number of backslashes precede it.
    let slashes = 0;
    for (let k = close - 1; k >= from && line.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return close + 1;
    i = close + 1;
  }
}

/** Why the number literal `text` would not come back as written, or null. */
export function numberProblem(text: string): string | null {
  const value = Number(text);
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  if (!/[.eE]/.test(text)) {
    return Number.isSafeInteger(value) ? null : `the integer ${shown} is beyond 2^53 - 1, the largest this node can hold exactly`;
  }
  if (!Number.isFinite(value)) return `the number ${shown} is too large to hold`;
  if (value === 0 && /[1-9]/.test(text.split(/[eE]/)[0] ?? '')) return `the number ${shown} is too small to hold`;
  return null;
}

function isNumberChar(c: number): boolean {
  return (c >= DIGIT_0 && c <= DIGIT_9) || c === MINUS || c === PLUS || c === DOT || c === LOWER_E || c === UPPER_E;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
