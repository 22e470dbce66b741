/**
 * The one process supervisor: `chatterbox cluster`, the harness's process backend and the process tests start
 * their children through it.
 *
 * A child is spawned with piped stdout (and stderr, unless it goes straight to a file so that a chatty child never
 * blocks on a full pipe), and what it prints comes back as lines, as events. Waiting is on events only: the
 * child's exit, or a line that matches; the wall-clock waits are `stop`'s grace before SIGKILL, a named hang
 * limit the caller passes, and OUTPUT_DRAIN_AFTER_EXIT_MS for the output of a child that has exited. Signals go
 * only to a child that still runs (SIGSTOP/SIGCONT pause it as a shell's ^Z/fg do).
 *
 * Each child runs in its own process group (and session: `detached`), and a signal goes to that whole group, so
 * what a child started (a wrapper script's node) is paused, stopped and killed with it. So a terminal's ^C reaches
 * only this process, not the children directly: `chatterbox cluster` stops its nodes on SIGINT/SIGTERM/SIGHUP
 * itself, and the exit hook below kills every group still running, whatever way this process exits.
 *
 * The child's exit ends its stdin at once, and its output gets a bound to close after that: a child that is a
 * wrapper (`#!/bin/sh` running `node x.js` without `exec`) leaves a grandchild holding the pipes, and neither that
 * grandchild waiting for the end of its input nor one that never closes its stdout can keep `exited` (and so
 * `stop`) waiting without end. A `ChildSet` holds what one command started, at most `MAX_RUNNING_CHILDREN` at once, and kills
 * every one still running when this process exits for any reason (an uncaught exception included), so nothing
 * is left orphaned.
 *
 * Children run on the wall clock; this module is process-bound and sits beside the drivers, below the harness,
 * the CLI and the tests that use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

/** Children of one set running at once: far above any cluster or harness run (64, 25), a guard against a loop. */
export const MAX_RUNNING_CHILDREN = 1024;
/**
 * A line longer than this is cut there (and the rest of it, up to its newline, dropped): a child printing without
 * newlines must not grow our memory without end. Far above any protocol line (a broadcast read of every value).
 */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;
/**
 * After the child has exited, how long its stdout and stderr get to close before they are destroyed and `exited`
 * resolves with what was read. A child's own output is in the pipe when it exits and reads in milliseconds; only a
 * grandchild that inherited the pipes (a wrapper script's) can hold them open. A hang limit, far above the former.
 */
export const OUTPUT_DRAIN_AFTER_EXIT_MS = 10_000;

export interface ChildSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** The child's whole environment; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** The child's working directory; default this process's. */
  readonly cwd?: string;
  /**
   * `pipe` (default): open for `write`; a child may also take its end as the parent's going away. `ignore`: the
   * child reads end-of-file at once.
   */
  readonly stdin?: 'pipe' | 'ignore';
  /** `lines` (default): read as lines, as stdout is; or a file descriptor the child writes to directly. */
  readonly stderr?: 'lines' | number;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the child could not be started at all (no such file, not executable, …). */
  readonly spawnError?: string;
}

type LineListener = (line: string) => void;

export class Child {
  readonly proc: ChildProcess;
  /**
   * Resolves once the child has exited and all it printed has been read (at once when it never started; at most
   * OUTPUT_DRAIN_AFTER_EXIT_MS after the exit when something it started holds its output open).
   */
  readonly exited: Promise<ExitStatus>;
  private readonly listeners: { readonly stdout: LineListener[]; readonly stderr: LineListener[] } = { stdout: [], stderr: [] };
  private status: ExitStatus | undefined;

  constructor(spec: ChildSpec) {
    const stderr = spec.stderr ?? 'lines';
    this.proc = spawn(spec.command, [...spec.args], {
      stdio: [spec.stdin ?? 'pipe', 'pipe', stderr === 'lines' ? 'pipe' : stderr],
      env: spec.env ?? process.env,
      detached: true,
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    });
    // EPIPE once the child is gone: its exit is what counts.
    this.proc.stdin?.on('error', () => {});
    const streamsRead = Promise.all([this.readLines(this.proc.stdout, 'stdout'), this.readLines(this.proc.stderr, 'stderr')]);
    const ended = new Promise<ExitStatus>((resolve) => {
      this.proc.on('error', (error) => {
        // A spawn failure emits 'error' and no 'exit'; a failed kill() emits 'error' while the child runs on.
        if (this.proc.pid === undefined) resolve({ code: null, signal: null, spawnError: error.message });
      });
      this.proc.on('exit', (code, signal) => resolve({ code, signal }));
    });
    this.exited = ended.then(async (status) => {
      // End of input as soon as the child is gone (Node's ChildProcess does this on exit too; this does not rely
      // on it): a grandchild that inherited the stdin reads EOF now, rather than hold stdout open waiting for it.
      this.proc.stdin?.destroy();
      if (status.spawnError === undefined) await this.drain(streamsRead);
      this.status = status;
      return status;
    });
  }

  /** Waits for the output streams to close, for at most OUTPUT_DRAIN_AFTER_EXIT_MS; then destroys them. */
  private async drain(streamsRead: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'held open'>((resolve) => {
      timer = setTimeout(() => resolve('held open'), OUTPUT_DRAIN_AFTER_EXIT_MS);
    });
    const outcome = await Promise.race([streamsRead, bound]);
    clearTimeout(timer);
    if (outcome === 'held open') {
      this.proc.stdout?.destroy();
      this.proc.stderr?.destroy();
    }
  }

  /** Until the child has exited (or failed to start). */
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid !== undefined && this.status === undefined;
  }

  /** Every line the child prints on that stream from now on, without its newline. */
  onLine(stream: 'stdout' | 'stderr', listener: LineListener): this {
    this.listeners[stream].push(listener);
    return this;
  }

  /** The next line on that stream that `matches`; rejects when the child exits first. */
  lineMatching(stream: 'stdout' | 'stderr', matches: (line: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (): void => {
        done = true;
        const listeners = this.listeners[stream];
        listeners.splice(listeners.indexOf(listener), 1);
      };
      const listener = (line: string): void => {
        if (done || !matches(line)) return;
        finish();
        resolve(line);
      };
      this.onLine(stream, listener);
      void this.exited.then((status) => {
        if (done) return;
        finish();
        reject(new Error(`the child ${status.spawnError === undefined ? `exited (${status.code ?? status.signal})` : `could not start (${status.spawnError})`} before printing the line awaited on ${stream}`));
      });
    });
  }

  /** Writes to the child's stdin; nothing when it is gone or its stdin is not a pipe. */
  write(text: string): void {
    const stdin = this.proc.stdin;
    if (this.running && stdin !== null && stdin.writable) stdin.write(text);
  }

  /** Closes the child's stdin: end of input. */
  endInput(): void {
    this.proc.stdin?.end();
  }

  /** Sends `sig` to the child's process group if the child still runs; says whether it did. */
  signal(sig: NodeJS.Signals): boolean {
    const pid = this.proc.pid;
    if (!this.running || pid === undefined) return false;
    try {
      process.kill(-pid, sig);
      return true;
    } catch {
      return this.proc.kill(sig);
    }
  }

  /**
   * Asks the child to stop, waits for its exit for at most `graceMs` (the caller's named hang limit), then SIGKILLs
   * it. `how`: end its input (a stopped child is continued first, so that it can read the end), or a signal (a
   * stopped child is continued right after it, so that it acts on the signal, which stays pending until then).
   */
  async stop(how: 'end-input' | NodeJS.Signals, graceMs: number): Promise<ExitStatus> {
    if (how === 'end-input') {
      this.signal('SIGCONT');
      this.endInput();
    } else if (this.signal(how) && how !== 'SIGKILL') this.signal('SIGCONT');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), graceMs);
      timer.unref();
    });
    const outcome = await Promise.race([this.exited, grace]);
    clearTimeout(timer);
    if (outcome === 'hung') this.signal('SIGKILL');
    return this.exited;
  }

  /** Splits a stream into lines (CRLF too), each cut at MAX_LINE_CHARS; resolves when the stream closes. */
  private readLines(stream: Readable | null, name: 'stdout' | 'stderr'): Promise<void> {
    if (stream === null) return Promise.resolve();
    const emit = (line: string): void => {
      for (const listener of [...this.listeners[name]]) listener(line.endsWith('\r') ? line.slice(0, -1) : line);
    };
    let partial = '';
    let cut = false; // the current line was cut at MAX_LINE_CHARS: drop the rest of it
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      let from = 0;
      for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', from)) {
        if (!cut) emit((partial + chunk.slice(from, newline)).slice(0, MAX_LINE_CHARS));
        partial = '';
        cut = false;
        from = newline + 1;
      }
      if (cut) return;
      partial += chunk.slice(from);
      if (partial.length > MAX_LINE_CHARS) {
        emit(partial.slice(0, MAX_LINE_CHARS));
        partial = '';
        cut = true;
      }
    });
    return new Promise((resolve) => {
      const end = (): void => {
        if (partial.length > 0 && !cut) emit(partial);
        partial = '';
        resolve();
      };
      stream.on('close', end);
      stream.on('error', end);
    });
  }
}

/** What one command started; every child still running is killed, with its group, when this process exits. */
export class ChildSet {
  private readonly children = new Set<Child>();
  private readonly killOnExit = (): void => this.signalAll('SIGKILL');
  private hooked = false;

  constructor(private readonly maxRunning = MAX_RUNNING_CHILDREN) {}

  start(spec: ChildSpec): Child {
    let running = 0;
    for (const child of this.children) if (child.running) running++;
    if (running >= this.maxRunning) throw new RangeError(`more than ${this.maxRunning} children running at once`);
    if (!this.hooked) {
      process.on('exit', this.killOnExit);
      this.hooked = true;
    }
    const child = new Child(spec);
    this.children.add(child);
    void child.exited.then(() => this.children.delete(child));
    return child;
  }

  /** Sends `sig` to every child still running. */
  signalAll(sig: NodeJS.Signals): void {
    for (const child of this.children) child.signal(sig);
  }

  /** Kills what still runs and stops watching this process's exit (for a set whose command is over). */
  close(): void {
    this.signalAll('SIGKILL');
    if (this.hooked) process.off('exit', this.killOnExit);
    this.hooked = false;
  }
}
