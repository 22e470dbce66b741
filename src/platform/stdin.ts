import { fstatSync } from 'node:fs';
import { UsageError } from './user-errors.js';

/**
 * For programs that read stdin (`chat`, every Maelstrom node run by `runMaelstromStdio`): stdin redirected from
 * a directory (`chatterbox chat … < /`) is a usage error, like a file flag naming one. Node reads such a stdin as
 * empty, so the program would run on no input and exit 0 without a word. `isDirectory` is injectable for tests; a
 * stdin that cannot even be examined is left to the program, which reads it as ended.
 */
export function checkStdin(isDirectory: () => boolean = () => fstatSync(0).isDirectory()): void {
  let directory = false;
  try {
    directory = isDirectory();
  } catch {
    return;
  }
  if (directory) throw new UsageError('stdin: is a directory; give input on stdin from a terminal, a pipe or a file');
}
