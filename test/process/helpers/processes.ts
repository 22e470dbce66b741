/** Real OS processes for integration tests: start `chatterbox` commands and await what they print, never sleep. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../../src/supervisor/free-port.js';
import { ChildSet, type Child } from '../../../src/supervisor/supervisor.js';
import type { ChildProcess } from 'node:child_process';

export const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

/**
 * How long a process test waits for something a process should do (answer, converge, exit) before calling it
 * hung. Only a bound that turns a hang into a failure instead of a stuck suite: far above what a loaded 2-core
 * machine takes (seconds), so no test fails by timing. Speed is measured by benchmarks, never by this.
 */
export const HUNG_AFTER_MS = 60_000;

export interface Running {
  readonly child: Child;
  readonly proc: ChildProcess;
  readonly stdoutLines: string[];
  readonly stderrLines: string[];
  /** Resolves with the exit code (or the signal's name) once the process has exited and its output is read. */
  readonly exited: Promise<number | string>;
  /** Resolves with the first stderr line matching, or rejects when the process exits first. */
  stderrMatching(pattern: RegExp): Promise<string>;
  /** The same on stdout: the first line for which `matches` holds, printed already or awaited. */
  stdoutMatching(matches: (line: string) => boolean): Promise<string>;
}

/** Every process a test file starts; what still runs when the file's process exits is killed. */
const children = new ChildSet();

/** Starts `chatterbox <args>`; stdin is ignored unless `stdin` is 'pipe' (then `child.write` feeds it). */
export function startChatterbox(args: readonly string[], env: NodeJS.ProcessEnv = {}, stdin: 'pipe' | 'ignore' = 'ignore'): Running {
  return startNodeScript(MAIN, args, env, stdin);
}

/** Starts `node <script> <args>` (a chatterbox command, or an example's script), as `startChatterbox` does. */
export function startNodeScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, stdin: 'pipe' | 'ignore' = 'ignore'): Running {
  return startProcess(process.execPath, [script, ...args], env, stdin);
}

/** Starts any `command <args>` (e.g. `ip netns exec <ns> node …`) as `startChatterbox` does. */
export function startProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, stdin: 'pipe' | 'ignore' = 'ignore'): Running {
  const child = children.start({ command, args, stdin, env: { ...process.env, ...env } });
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  child.onLine('stdout', (line) => stdoutLines.push(line)).onLine('stderr', (line) => stderrLines.push(line));
  let gone = false;
  const exited = child.exited.then((status) => {
    gone = true;
    return status.code ?? status.signal ?? `not started: ${status.spawnError}`;
  });
  const matching = (stream: 'stdout' | 'stderr', lines: string[], matches: (line: string) => boolean, what: string): Promise<string> => {
    const seen = lines.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    const exitedFirst = (): Error => new Error(`process exited without printing ${what}; stdout:\n${stdoutLines.slice(-10).join('\n')}\nstderr:\n${stderrLines.slice(-10).join('\n')}`);
    if (gone) return Promise.reject(exitedFirst());
    return child.lineMatching(stream, matches).catch(() => Promise.reject(exitedFirst()));
  };
  return {
    child,
    proc: child.proc,
    stdoutLines,
    stderrLines,
    exited,
    stderrMatching: (pattern) => matching('stderr', stderrLines, (line) => pattern.test(line), String(pattern)),
    stdoutMatching: (matches) => matching('stdout', stdoutLines, matches, 'the line awaited'),
  };
}

export interface LocalCluster {
  readonly dir: string;
  readonly peersFile: string;
  readonly ports: readonly number[];
}

/** A peers file in the object form for `count` free loopback ports. */
export async function localCluster(count: number): Promise<LocalCluster> {
  const ports = await freePorts(count);
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-test-'));
  const peersFile = join(dir, 'peers.json');
  writeFileSync(peersFile, JSON.stringify(ports.map((port, i) => ({ id: `n${i + 1}`, host: '127.0.0.1', port }))));
  return { dir, peersFile, ports };
}

/** Starts one node per port of the cluster with the given extra flags. */
export function startNodes(cluster: LocalCluster, flags: readonly string[], env: NodeJS.ProcessEnv = {}): Running[] {
  return cluster.ports.map((port) => startChatterbox(['node', '-p', String(port), '--peer-config-file', cluster.peersFile, ...flags], env));
}
