/**
 * `mkdir -p` that always ends. Node 20's `mkdirSync(path, { recursive: true })` can spin forever, at full CPU
 * and deaf to signals, on a path the file system refuses in an unusual way (`/proc/x`). Here each missing
 * ancestor is created once, in order, and the first refusal is thrown as the fs error it is.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Deeper paths are certainly mistakes; the bound keeps the walk finite whatever the file system says. */
const MAX_DEPTH = 4096;

/** Creates `dir` and its missing ancestors. Throws the fs error of the first that cannot be made (or read). */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (missing.length >= MAX_DEPTH) throw new RangeError(`${dir}: more than ${MAX_DEPTH} directories deep`);
    if (exists(at)) break;
    missing.push(at);
    if (dirname(at) === at) break; // the root itself is missing: mkdir below says why
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!);
    } catch (error) {
      // Another process made it meanwhile: as good as made here.
      if (fsCode(error) !== 'EEXIST') throw error;
    }
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if (fsCode(error) === 'ENOENT') return false;
    throw error; // EACCES, ENOTDIR, ...: the caller says why the dir cannot be made
  }
}

function fsCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}
