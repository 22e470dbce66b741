/** Real OS processes for integration tests: start `chatterbox` commands and await what they print, never sleep. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../../src/transport/free-port.js';

export const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

/**
 * How long a process test waits for something a process should do (answer, converge, exit) before calling it
 * hung. Only a bound that turns a hang into a failure instead of a stuck suite: far above what a loaded 2-core
 * machine takes (seconds), so no test fails by timing. Speed is measured by benchmarks, never by this.
 */
export const HUNG_AFTER_MS = 60_000;

export interface Running {
  readonly proc: ChildProcess;
  readonly stdoutLines: string[];
  readonly stderrLines: string[];
  /** Resolves with the exit code (or the signal's name) once the process has exited and its output is read. */
  readonly exited: Promise<number | string>;
  /** Resolves with the first stderr line matching, or rejects when the process exits first. */
  stderrMatching(pattern: RegExp): Promise<string>;
}

export function startChatterbox(args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void; reject: (e: Error) => void }> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => stdoutLines.push(line));
  const stderr = createInterface({ input: proc.stderr! });
  stderr.on('line', (line) => {
    stderrLines.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  let gone = false;
  const exited = Promise.all([once(proc, 'close'), once(stderr, 'close')]).then(([[code, signal]]) => (code ?? signal) as number | string);
  void exited.then(() => {
    gone = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`process exited before printing ${w.pattern}; stderr:\n${stderrLines.slice(-10).join('\n')}`));
  });
  return {
    proc,
    stdoutLines,
    stderrLines,
    exited,
    stderrMatching(pattern) {
      const seen = stderrLines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      if (gone) return Promise.reject(new Error(`process exited without printing ${pattern}; stderr:\n${stderrLines.slice(-10).join('\n')}`));
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
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
