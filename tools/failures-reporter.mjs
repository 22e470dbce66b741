/**
 * A `node --test` reporter that writes one JSON line per failed test: its file, its full name (the describe
 * blocks it sits in, joined by " › ") and the start of its error. tools/run-tests.mjs adds it when
 * CHATTERBOX_TEST_FAILURES names a file; tools/soak.mjs reads that file to say which tests failed in a run.
 *
 * A suite whose only fault is a failed subtest is left out: the subtest is the failure worth naming.
 */

/** Of a failure's message, this many lines and characters at most: enough to tell one failure from another. */
const MESSAGE_LINES = 3;
const MESSAGE_CHARS = 400;

/** @param {AsyncIterable<{ type: string, data: Record<string, any> }>} source */
export default async function* failuresReporter(source) {
  /** Per file, the names of the tests being reported, by nesting level (events come in definition order). */
  const stacks = new Map();
  for await (const event of source) {
    const data = event.data ?? {};
    const file = typeof data.file === 'string' ? data.file : '(unknown file)';
    if (event.type === 'test:start') {
      const stack = stacks.get(file) ?? [];
      stack.length = data.nesting;
      stack.push(data.name);
      stacks.set(file, stack);
    } else if (event.type === 'test:fail') {
      const error = data.details?.error;
      if (error?.failureType === 'subtestsFailed') continue;
      const parents = (stacks.get(file) ?? []).slice(0, data.nesting);
      const cause = error?.cause ?? error;
      const lines = String(cause?.message ?? cause ?? 'failed').split('\n').filter((line) => line.trim().length > 0);
      const message = lines.slice(0, MESSAGE_LINES).join(' ⏎ ').slice(0, MESSAGE_CHARS);
      yield `${JSON.stringify({ file, name: [...parents, data.name].join(' › '), failureType: error?.failureType ?? null, error: message })}\n`;
    }
  }
}
