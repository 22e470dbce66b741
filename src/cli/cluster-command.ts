/**
 * `chatterbox cluster`: the whole agreement job on one machine.
 *
 * Writes a peers file for N free loopback ports, starts N `chatterbox node` child processes, shows their
 * progress (read from the JSON `progress` log lines each child writes to its stderr), and when all have exited,
 * prints every node's result line and the verdict: `agreement: ...` when all printed the same line and exited 0.
 *
 * The pure parts (argument validation, child argv, log-line classification, progress rendering, the verdict)
 * are exported for tests; `runClusterCommand` does the process work.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { nodeId } from '../core/ids.js';
import type { PeerAddress } from '../transport/tcp-transport.js';
import { freePorts } from '../supervisor/free-port.js';
import { ChildSet, type Child as SupervisedChild } from '../supervisor/supervisor.js';
import { PARENT_PIPE_ENV, addRunOptions, randomSeed, runArgsFromOptions, type RunArgs, type RunDefaults } from './agreement-flags.js';
import { configureCommand, parseQuietly, type Env, type OptionValues } from './command.js';
import { UsageError, fileErrorText, listenRunError, quote } from '../platform/user-errors.js';
import { parsePort, parseSeconds, pathOption, stringOption, wholeNumber } from './flags.js';
import { addClusterKeyOption, clusterKeyFileFrom, loadClusterKey, type ClusterKeyFile } from './place-flags.js';
import { formatPeersFile } from '../platform/peers-file.js';
import { startClusterDashboard, type ClusterDashboard } from '../runtime/dashboard/cluster-dashboard.js';

export const MAX_NODES = 64;

/** 6 + 4 seconds, so that `npm start` finishes in about ten. */
export const CLUSTER_DEFAULTS = {
  nodes: 5,
  sendForSeconds: 6,
  waitForSeconds: 4,
  tickMs: 100,
  protocol: 'stream',
} as const satisfies RunDefaults & Record<string, unknown>;

/** A child still running this long after send-for + wait-for is hung: it is killed and reported. */
export const EXIT_SLACK_MS = 5_000;
/** Between SIGTERM and SIGKILL for a child that overran its deadline. */
const KILL_GRACE_MS = 1_000;
const HOST = '127.0.0.1';
/** A node prints one short line; anything beyond this is runaway output and is cut off. */
const MAX_STDOUT_CHARS = 64 * 1024;

/** Exit statuses of `chatterbox cluster` (2, usage errors, comes from main). */
export const EXIT_AGREEMENT = 0;
export const EXIT_DISAGREEMENT = 1;
/** No two results differ, but some node crashed, hung, exited non-zero or printed nothing. */
export const EXIT_INCOMPLETE = 3;

/**
 * What the cluster does to its own nodes, to show the guarantees as people meet them: a node killed (SIGKILL) or
 * stopped (SIGSTOP, then SIGCONT) at a time counted from that node's start.
 */
export type ClusterFault = { readonly kind: 'kill'; readonly node: string; readonly atMs: number } | { readonly kind: 'pause'; readonly node: string; readonly atMs: number; readonly forMs: number };

export interface ClusterArgs extends RunArgs {
  readonly nodes: number;
  /** Checked here once, then passed to every node. */
  readonly clusterKeyFile: ClusterKeyFile | undefined;
  /** Where to write the peers file; undefined → a temp dir, removed afterwards. */
  readonly peersOut: string | undefined;
  /** Print the verdict as one JSON object (for scripts and the benchmark) instead of text lines. */
  readonly json: boolean;
  /** Node k (from 0) starts k × this after the first. */
  readonly startApartMs: number;
  readonly faults: readonly ClusterFault[];
  /** `--dashboard`: serve a live page on loopback (port 0: a free one); after the verdict keep serving for `lingerMs`, or until a signal when undefined. */
  readonly dashboard?: { readonly port: number; readonly lingerMs: number | undefined; readonly waitForPage: boolean };
}

// ---------------------------------------------------------------------------------------------------------
// Arguments

export function defineClusterCommand(): Command {
  const cmd = configureCommand(new Command('cluster'))
    .description('Run the agreement job on this machine: N `chatterbox node` processes on loopback ports, with live progress and a verdict.')
    .option('--nodes <count>', `number of nodes, 1..${MAX_NODES} (default ${CLUSTER_DEFAULTS.nodes})`)
    .option('--peers-out <path>', 'write the generated peers file here and keep it (default: a temp file, removed afterwards)')
    .option('--json', 'print the verdict as one JSON object: {agreed, exitCode, line, elapsedMs, nodes: [{id, line, exitCode, signal, killed, maxRssKb}]}')
    .option('--start-apart <seconds>', 'start the nodes this far apart, n1 first, as people starting them by hand do (default 0)')
    .option('--kill <node@seconds>', 'kill the node (SIGKILL) this long after its start, e.g. n3@1.5; may be repeated', collect, [])
    .option('--pause <node@seconds+seconds>', 'stop the node (SIGSTOP) this long after its start and resume it (SIGCONT) after the second time, e.g. n2@1+1; may be repeated', collect, [])
    .option('--dashboard', `serve a live page of the run on ${HOST} (its URL is printed at the start); after the verdict it keeps serving the final picture until Ctrl-C`)
    .option('--dashboard-port <port>', 'port of the dashboard (default: a free one); implies --dashboard')
    .option('--dashboard-linger <seconds>', 'after the verdict, serve the final picture this long instead of until Ctrl-C (0: stop at once); implies --dashboard')
    .option('--dashboard-wait', 'start the nodes only once a page is watching the dashboard, so that it shows the run from its start; implies --dashboard');
  addRunOptions(addClusterKeyOption(cmd), CLUSTER_DEFAULTS, "nodes log at debug level, and all their log lines are shown, not just warnings and errors").addHelpText(
    'after',
    [
      '',
      `Each node is started as \`chatterbox node --progress\` with the flags above passed through, and the same seed for all.`,
      `A node still running ${EXIT_SLACK_MS / 1000} s after --send-for + --wait-for is killed and reported.`,
      'Nodes killed with --kill do not count: the verdict is about the nodes left alive.',
      '',
      `Exit status: ${EXIT_AGREEMENT} when every live node exited 0 and printed the same line, ${EXIT_DISAGREEMENT} when nodes printed`,
      `different lines, ${EXIT_INCOMPLETE} when some node crashed, hung or printed nothing (and no results differ),`,
      '2 for a usage error, 128 + n when stopped by signal n.',
    ].join('\n'),
  );
  return cmd;
}

export function clusterArgsFromOptions(opts: OptionValues, env: Env = {}): ClusterArgs {
  const nodes = stringOption(opts, 'nodes', '--nodes');
  const peersOut = pathOption(opts, 'peersOut', '--peers-out');
  const count = nodes === undefined ? CLUSTER_DEFAULTS.nodes : wholeNumber('--nodes', nodes, 1, MAX_NODES);
  const startApart = stringOption(opts, 'startApart', '--start-apart');
  const faults = [
    ...listOption(opts, 'kill').map((raw) => parseKill(raw, count)),
    ...listOption(opts, 'pause').map((raw) => parsePause(raw, count)),
  ];
  const killed = new Set(faults.flatMap((f) => (f.kind === 'kill' ? [f.node] : [])));
  if (killed.size >= count) throw new UsageError(`--kill: every node would be killed, and nobody left to agree`);
  return {
    ...runArgsFromOptions(opts, CLUSTER_DEFAULTS),
    clusterKeyFile: clusterKeyFileFrom(opts, env),
    nodes: count,
    peersOut,
    json: opts['json'] === true,
    startApartMs: startApart === undefined ? 0 : parseSeconds('--start-apart', startApart, true),
    faults,
    ...dashboardArgs(opts),
  };
}

function dashboardArgs(opts: OptionValues): Pick<ClusterArgs, 'dashboard'> {
  const port = stringOption(opts, 'dashboardPort', '--dashboard-port');
  const linger = stringOption(opts, 'dashboardLinger', '--dashboard-linger');
  const waitForPage = opts['dashboardWait'] === true;
  if (opts['dashboard'] !== true && port === undefined && linger === undefined && !waitForPage) return {};
  return {
    dashboard: {
      port: port === undefined ? 0 : parsePort('--dashboard-port', port),
      lingerMs: linger === undefined ? undefined : parseSeconds('--dashboard-linger', linger, true),
      waitForPage,
    },
  };
}

/** Commander's accumulator for repeatable options. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function listOption(opts: OptionValues, key: string): string[] {
  const value = opts[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function parseNodeName(flag: string, raw: string, count: number): string {
  const match = /^n(\d+)$/.exec(raw);
  if (match === null || Number(match[1]) < 1 || Number(match[1]) > count) throw new UsageError(`${flag}: expected a node n1..n${count}, got ${quote(raw)}`);
  return raw;
}

export function parseKill(raw: string, count: number): ClusterFault {
  const match = /^([^@]+)@(.+)$/.exec(raw);
  if (match === null) throw new UsageError(`--kill: expected node@seconds (e.g. n3@1.5), got ${quote(raw)}`);
  return { kind: 'kill', node: parseNodeName('--kill', match[1] as string, count), atMs: parseSeconds('--kill', match[2] as string, true) };
}

export function parsePause(raw: string, count: number): ClusterFault {
  const match = /^([^@]+)@([^+]+)\+(.+)$/.exec(raw);
  if (match === null) throw new UsageError(`--pause: expected node@seconds+seconds (e.g. n2@1+1), got ${quote(raw)}`);
  return {
    kind: 'pause',
    node: parseNodeName('--pause', match[1] as string, count),
    atMs: parseSeconds('--pause', match[2] as string, true),
    forMs: parseSeconds('--pause', match[3] as string, false),
  };
}

/** Parses `chatterbox cluster` arguments without touching the process. Throws UsageError. */
export function parseClusterArgv(argv: readonly string[], env: Env = {}): ClusterArgs {
  return clusterArgsFromOptions(parseQuietly(defineClusterCommand(), argv).opts(), env);
}

/** Nodes n1..nN on loopback, in port order. */
export function clusterPeers(ports: readonly number[]): PeerAddress[] {
  return ports.map((port, i) => ({ id: nodeId(`n${i + 1}`), host: HOST, port }));
}

/** The arguments after `main.js` for one child. Milliseconds go back out as exact decimal seconds. */
export function childArgv(args: ClusterArgs, self: PeerAddress, peersFile: string, seed: bigint, keyFile: string | undefined): string[] {
  const argv = [
    'node',
    '-h',
    self.host,
    '-p',
    String(self.port),
    '--peer-config-file',
    peersFile,
    '--progress',
    '--send-for',
    String(args.sendForMs / 1000),
    '--wait-for',
    String(args.waitForMs / 1000),
    '--with-seed',
    seed.toString(),
    '--protocol',
    args.protocol,
    '--tick-duration',
    String(args.tickMs),
  ];
  if (keyFile !== undefined) argv.push('--cluster-key-file', keyFile);
  if (args.verbose) argv.push('--verbose');
  return argv;
}

// ---------------------------------------------------------------------------------------------------------
// Children's stderr: pino JSON lines. `progress` lines feed the table; the rest may be passed through.

export type ChildLine =
  | { readonly kind: 'progress'; readonly node: string | undefined; readonly phase: string | undefined; readonly sent: number | undefined; readonly committed: number | undefined }
  | { readonly kind: 'log'; readonly level: number; readonly record: Readonly<Record<string, unknown>> }
  /** Not a pino line: a crash trace or a runtime warning printed by Node itself. */
  | { readonly kind: 'text'; readonly text: string };

export const WARN_LEVEL = 40;

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function classifyChildLine(line: string): ChildLine {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return { kind: 'text', text: line };
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return { kind: 'text', text: line };
  const fields = record as Record<string, unknown>;
  if (fields['msg'] === 'progress') {
    return {
      kind: 'progress',
      node: typeof fields['node'] === 'string' ? fields['node'] : undefined,
      phase: typeof fields['phase'] === 'string' ? fields['phase'] : undefined,
      sent: finiteNumber(fields['sent']),
      committed: finiteNumber(fields['committed']),
    };
  }
  const level = finiteNumber(fields['level']);
  // A JSON line without a numeric level is not pino's: treat it like any foreign text.
  if (level === undefined) return { kind: 'text', text: line };
  return { kind: 'log', level, record: fields };
}

/** Whether a non-progress line is shown: warnings and worse always, foreign text always (it is usually a crash). */
export function shouldPassThrough(line: ChildLine, verbose: boolean): boolean {
  switch (line.kind) {
    case 'progress':
      return false;
    case 'text':
      return true;
    case 'log':
      return verbose || line.level >= WARN_LEVEL;
  }
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const PINO_BOOKKEEPING = new Set(['level', 'time', 'pid', 'hostname', 'node', 'msg']);

/** `n3 WARN connection refused {"peer":"n2"}`: one line, prefixed by the node id. */
export function formatPassThrough(id: string, line: ChildLine, verbose: boolean): string {
  if (line.kind === 'text') return `${id} | ${line.text}`;
  if (line.kind === 'progress') return `${id} progress`;
  const { record } = line;
  const level = LEVEL_NAMES[line.level] ?? `LEVEL${line.level}`;
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (PINO_BOOKKEEPING.has(key)) continue;
    // pino's error serializer adds a multi-line stack: the message says enough unless debugging.
    if (key === 'err' && !verbose && typeof value === 'object' && value !== null && 'message' in value) {
      extra[key] = (value as { message: unknown }).message;
      continue;
    }
    extra[key] = value;
  }
  const rest = Object.keys(extra).length === 0 ? '' : ` ${JSON.stringify(extra)}`;
  return `${id} ${level} ${msg}${rest}`;
}

// ---------------------------------------------------------------------------------------------------------
// Progress display

export interface NodeProgress {
  readonly id: string;
  phase: string;
  sent: number | undefined;
  committed: number | undefined;
  /** 'running' until the child exits, then how it ended: 'exit 0', 'exit 1', 'SIGKILL', ... */
  state: string;
}

function count(value: number | undefined): string {
  return value === undefined ? '-' : String(value);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The TTY table: a header line, then one line per node with aligned columns. */
export function formatProgressTable(rows: readonly NodeProgress[], elapsedMs: number, plannedMs: number): string[] {
  const table = [['node', 'phase', 'sent', 'committed', 'state'], ...rows.map((r) => [r.id, r.phase, count(r.sent), count(r.committed), r.state])];
  const widths = [0, 1, 2, 3, 4].map((col) => Math.max(...table.map((cells) => (cells[col] as string).length)));
  const numeric = new Set([2, 3]);
  const lines = table.map((cells) =>
    cells
      .map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col] as number) : cell.padEnd(widths[col] as number)))
      .join('  ')
      .trimEnd(),
  );
  return [`cluster: ${rows.length} nodes, ${seconds(elapsedMs)} of about ${seconds(plannedMs)}`, ...lines];
}

/** The non-TTY form: one line, at most once a second. */
export function formatProgressSummary(rows: readonly NodeProgress[], elapsedMs: number): string {
  const nodes = rows.map((r) => `${r.id} ${r.state === 'running' ? r.phase : r.state} ${count(r.sent)}/${count(r.committed)}`);
  return `progress at ${seconds(elapsedMs)} (sent/committed): ${nodes.join(', ')}`;
}

/** What the board writes to: a stream with optional TTY facts (process.stderr in practice). */
export interface BoardOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * Renders the rows. On a TTY the table is redrawn in place (cursor up, erase down) and passed-through lines are
 * printed above it; otherwise a summary line is printed at most once per second, and only when something changed.
 */
export class ProgressBoard {
  private drawnLines = 0;
  private dirty = true;
  private lastSummaryAt = -Infinity;
  private readonly tty: boolean;

  constructor(
    private readonly out: BoardOutput,
    readonly rows: readonly NodeProgress[],
    private readonly plannedMs: number,
    private readonly now: () => number,
    private readonly startedAt: number,
  ) {
    this.tty = out.isTTY === true;
  }

  /** How often `tick` should be called. */
  get intervalMs(): number {
    return this.tty ? 200 : 1000;
  }

  changed(): void {
    this.dirty = true;
  }

  /** A line from outside the table (a child's warning, a note), printed so the table is not torn. */
  print(line: string): void {
    if (this.tty) {
      this.erase();
      this.out.write(`${line}\n`);
      this.draw();
    } else {
      this.out.write(`${line}\n`);
    }
  }

  tick(): void {
    if (!this.dirty) return;
    if (this.tty) {
      this.erase();
      this.draw();
      return;
    }
    const at = this.now();
    // 900, not 1000: the interval timer itself fires about once a second and may fire a little early.
    if (at - this.lastSummaryAt < 900) return;
    this.lastSummaryAt = at;
    this.dirty = false;
    this.out.write(`${formatProgressSummary(this.rows, at - this.startedAt)}\n`);
  }

  /** The final state, whatever the throttle says. */
  finish(): void {
    if (this.tty) {
      this.erase();
      this.draw();
    } else if (this.dirty) {
      this.lastSummaryAt = -Infinity;
      this.tick();
    }
  }

  private erase(): void {
    // CSI n F: to the start of the line n lines up; CSI J: erase from there to the end of the screen.
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}F\x1b[J`);
    this.drawnLines = 0;
  }

  private draw(): void {
    // Lines wider than the terminal would wrap and break the cursor-up count, so they are clipped.
    // A pseudo-terminal may report 0 columns, which means unknown, not zero.
    const columns = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : 120;
    const width = Math.max(20, columns - 1);
    const lines = formatProgressTable(this.rows, this.now() - this.startedAt, this.plannedMs).map((l) => (l.length > width ? l.slice(0, width) : l));
    this.out.write(`${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
    this.dirty = false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Verdict

export interface NodeOutcome {
  readonly id: string;
  /** Everything the node printed on stdout. */
  readonly stdout: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Killed by the cluster for overrunning send-for + wait-for + slack. */
  readonly timedOut: boolean;
  /** The process could not be started at all. */
  readonly spawnError?: string;
  /** Peak resident memory the node reported in its final `node stopped` log line. */
  readonly maxRssKb?: number;
  /** Killed by the cluster as --kill asked: not a failure, and not a node whose line has to agree. */
  readonly killedAsPlanned?: boolean;
}

export interface Verdict {
  readonly exitCode: number;
  /** stdout: every node's lines prefixed by its id, then the verdict line. */
  readonly lines: readonly string[];
}

function failureOf(outcome: NodeOutcome, deadlineMs: number): string | undefined {
  const printed = outcome.stdout.trim().length > 0;
  const parts: string[] = [];
  if (outcome.spawnError !== undefined) parts.push(`could not be started (${outcome.spawnError})`);
  else if (outcome.timedOut) parts.push(`did not exit within ${seconds(deadlineMs)} and was killed`);
  else if (outcome.signal !== null) parts.push(`was killed by ${outcome.signal}`);
  else if (outcome.exitCode !== 0) parts.push(`exited with code ${outcome.exitCode}`);
  if (!printed) parts.push('printed nothing');
  return parts.length === 0 ? undefined : `${outcome.id} ${parts.join(' and ')}`;
}

/**
 * Agreement: every node exited 0 and printed the same (non-empty) output. Results are compared as the whole
 * trimmed stdout, so a node printing an extra line disagrees rather than being half-read.
 */
export function judge(allOutcomes: readonly NodeOutcome[], deadlineMs: number): Verdict {
  const lines: string[] = [];
  const byResult = new Map<string, string[]>();
  const killed = allOutcomes.filter((o) => o.killedAsPlanned === true).map((o) => o.id);
  const outcomes = allOutcomes.filter((o) => o.killedAsPlanned !== true);
  for (const outcome of allOutcomes) {
    if (outcome.killedAsPlanned === true) {
      lines.push(`${outcome.id}: (killed, --kill)`);
      continue;
    }
    const result = outcome.stdout.trim();
    if (result.length === 0) {
      lines.push(`${outcome.id}: (nothing printed)`);
      continue;
    }
    for (const line of result.split(/\r?\n/)) lines.push(`${outcome.id}: ${line}`);
    const ids = byResult.get(result) ?? [];
    ids.push(outcome.id);
    byResult.set(result, ids);
  }
  const failures = outcomes.map((o) => failureOf(o, deadlineMs)).filter((f): f is string => f !== undefined);
  const [only] = byResult.keys();
  if (failures.length === 0 && byResult.size === 1 && only !== undefined) {
    const who = killed.length === 0 ? `all ${outcomes.length} nodes` : `all ${outcomes.length} live nodes (${killed.join(', ')} killed)`;
    return { exitCode: EXIT_AGREEMENT, lines: [...lines, `agreement: ${who} printed ${oneLineResult(only)}`] };
  }
  const problems: string[] = [];
  if (byResult.size > 1) {
    const groups = [...byResult].map(([result, ids]) => `${ids.join(', ')}: ${oneLineResult(result)}`);
    problems.push(`${byResult.size} different results (${groups.join(' | ')})`);
  } else if (byResult.size === 0) {
    problems.push('no node printed a result');
  }
  problems.push(...failures);
  return {
    exitCode: byResult.size > 1 ? EXIT_DISAGREEMENT : EXIT_INCOMPLETE,
    lines: [...lines, `DISAGREEMENT: ${problems.join('; ')}`],
  };
}

function oneLineResult(result: string): string {
  return result.includes('\n') ? result.split(/\r?\n/).join(' ⏎ ') : result;
}

// ---------------------------------------------------------------------------------------------------------
// The process side

export interface ClusterIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: BoardOutput;
  /** The CLI entry the children run; defaults to this build's main.js. Tests substitute scripted fake nodes. */
  readonly mainPath?: string;
  /**
   * Arms the hung-child deadline: calls `fire` once `ms` have passed and returns what disarms it; by default a
   * timer. Tests substitute an event (a line the fake node printed), so that checking the hung-child path
   * neither waits the whole deadline nor races how fast a child process starts.
   */
  readonly armDeadline?: (ms: number, fire: () => void) => () => void;
}

function armTimer(ms: number, fire: () => void): () => void {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
}

interface Child {
  readonly id: string;
  readonly progress: NodeProgress;
  readonly process: SupervisedChild;
  /** Mutated while the child runs. */
  readonly state: { stdout: string; timedOut: boolean; spawnError: string | undefined; maxRssKb: number | undefined; killedAsPlanned: boolean };
  /** Resolves when the process has exited and both of its output streams are fully read. */
  readonly done: Promise<{ code: number | null; signal: string | null }>;
}

function defaultMainPath(): string {
  // cluster-command.js sits next to main.js in dist/src/cli, however the program itself was invoked.
  return fileURLToPath(new URL('./main.js', import.meta.url));
}

function startChild(children: ChildSet, id: string, mainPath: string, argv: readonly string[], board: ProgressBoard, verbose: boolean, dashboard: ClusterDashboard | undefined): Child {
  const progress: NodeProgress = { id, phase: 'starting', sent: undefined, committed: undefined, state: 'running' };
  const state: Child['state'] = { stdout: '', timedOut: false, spawnError: undefined, maxRssKb: undefined, killedAsPlanned: false };
  // stdin stays an open pipe that is never written: its EOF tells the child the cluster is gone.
  const proc = children.start({ command: process.execPath, args: [mainPath, ...argv], stdin: 'pipe', env: { ...process.env, [PARENT_PIPE_ENV]: '1' } });
  proc.onLine('stdout', (text) => {
    if (state.stdout.length < MAX_STDOUT_CHARS) state.stdout += `${text}\n`.slice(0, MAX_STDOUT_CHARS - state.stdout.length);
  });
  proc.onLine('stderr', (text) => {
    if (text.trim().length === 0) return;
    const line = classifyChildLine(text);
    if (line.kind === 'progress') {
      dashboard?.progressLine(id, text);
      if (line.phase !== undefined) progress.phase = line.phase;
      if (line.sent !== undefined) progress.sent = line.sent;
      if (line.committed !== undefined) progress.committed = line.committed;
      board.changed();
    } else if (line.kind === 'log' && line.record['msg'] === 'node stopped') {
      state.maxRssKb = finiteNumber(line.record['maxRssKb']);
    }
    if (line.kind !== 'progress' && shouldPassThrough(line, verbose)) {
      board.print(formatPassThrough(id, line, verbose));
    }
  });
  const done = proc.exited.then((status) => {
    state.spawnError = status.spawnError;
    progress.state = state.timedOut ? 'killed (hung)' : state.killedAsPlanned ? 'killed (--kill)' : status.signal !== null ? status.signal : `exit ${status.code}`;
    dashboard?.setLine(id, state.stdout);
    dashboard?.setState(id, progress.state);
    board.changed();
    return { code: status.code, signal: status.signal };
  });
  return { id, progress, process: proc, state, done };
}

function isRunning(child: Child): boolean {
  return child.process.running;
}

/** Writes text and resolves once it is handed to the OS, so it is not lost when the process exits. */
function writeAll(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((done) => {
    stream.write(text, () => done());
  });
}

function verdictJson(verdict: Verdict, outcomes: readonly NodeOutcome[], elapsedMs: number): Record<string, unknown> {
  const printed = (o: NodeOutcome): string | null => (o.stdout.trim() === '' ? null : o.stdout.trim());
  const lines = new Set(outcomes.filter((o) => o.killedAsPlanned !== true).map(printed));
  return {
    agreed: verdict.exitCode === EXIT_AGREEMENT,
    exitCode: verdict.exitCode,
    line: lines.size === 1 ? [...lines][0] : null,
    elapsedMs,
    nodes: outcomes.map((o) => ({ id: o.id, line: printed(o), exitCode: o.exitCode, signal: o.signal, killed: o.killedAsPlanned === true, maxRssKb: o.maxRssKb ?? null })),
  };
}

/** Runs the cluster; resolves with the exit status. Throws UsageError before starting anything. */
export async function runClusterCommand(args: ClusterArgs, io: ClusterIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  // Fail on a bad key file here, once, rather than in N children.
  const keyFile = args.clusterKeyFile === undefined ? undefined : resolve(args.clusterKeyFile.path);
  if (args.clusterKeyFile !== undefined) loadClusterKey(args.clusterKeyFile);
  const seed = args.seed ?? randomSeed();
  const mainPath = io.mainPath ?? defaultMainPath();

  const peers = clusterPeers(await freePorts(args.nodes, HOST));
  let tempDir: string | undefined;
  let peersFile: string;
  if (args.peersOut !== undefined) {
    peersFile = resolve(args.peersOut);
    try {
      await writeFile(peersFile, formatPeersFile(peers));
    } catch (error) {
      const reason = typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT' ? 'its directory does not exist' : fileErrorText(error);
      throw new UsageError(`--peers-out ${args.peersOut}: cannot write the peers file: ${reason}`);
    }
  } else {
    tempDir = await mkdtemp(join(tmpdir(), 'chatterbox-cluster-'));
    peersFile = join(tempDir, 'peers.json');
    await writeFile(peersFile, formatPeersFile(peers));
  }

  const lastStartMs = (args.nodes - 1) * args.startApartMs;
  const plannedMs = lastStartMs + args.sendForMs + args.waitForMs;
  // A stopped node's clock runs on, so a pause cannot make it overrun; the slack covers it all the same.
  const pausedMs = args.faults.reduce((sum, f) => sum + (f.kind === 'pause' ? f.forMs : 0), 0);
  const deadlineMs = plannedMs + pausedMs + EXIT_SLACK_MS;
  let startedAt = Date.now();
  io.stderr.write(
    `chatterbox cluster: ${args.nodes} node${args.nodes === 1 ? '' : 's'} on ${HOST} ports ${peers.map((p) => p.port).join(',')}, ` +
      `protocol ${args.protocol}, sending ${seconds(args.sendForMs)} + waiting ${seconds(args.waitForMs)}, ` +
      (args.startApartMs > 0 ? `started ${seconds(args.startApartMs)} apart, ` : '') +
      args.faults.map((f) => (f.kind === 'kill' ? `killing ${f.node} at ${seconds(f.atMs)}, ` : `pausing ${f.node} at ${seconds(f.atMs)} for ${seconds(f.forMs)}, `)).join('') +
      `seed ${seed} (repeat with --with-seed ${seed}), peers file ${peersFile}\n`,
  );
  let dashboard: ClusterDashboard | undefined;
  if (args.dashboard !== undefined) {
    try {
      dashboard = await startClusterDashboard({ host: HOST, port: args.dashboard.port, protocol: args.protocol, plannedMs, startedAtMs: startedAt });
    } catch (error) {
      if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
      throw listenRunError(error, '--dashboard-port') ?? error;
    }
    io.stderr.write(`chatterbox cluster: dashboard at ${dashboard.url}${args.dashboard.waitForPage ? ' (the nodes start once a page is watching)' : ''}\n`);
    if (args.dashboard.waitForPage) {
      // Nothing runs yet: a signal while waiting just ends the command.
      let onWaitSignal: (signal: NodeJS.Signals) => void = () => {};
      const waitSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      const signalled = new Promise<NodeJS.Signals>((resolveSignal) => (onWaitSignal = resolveSignal));
      for (const signal of waitSignals) process.on(signal, onWaitSignal);
      const first = await Promise.race([dashboard.watched.then(() => undefined), signalled]);
      for (const signal of waitSignals) process.off(signal, onWaitSignal);
      if (first !== undefined) {
        await dashboard.close();
        if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
        io.stderr.write(`chatterbox cluster: interrupted by ${first} before a page watched\n`);
        return 128 + (osConstants.signals[first] ?? 0);
      }
      startedAt = Date.now();
      dashboard.begin(startedAt);
    }
  }
  // After the verdict, with a dashboard: a signal ends the linger (the exit status stays the verdict's).
  let lingering = false;

  const rows: NodeProgress[] = [];
  const board = new ProgressBoard(io.stderr, rows, plannedMs, () => Date.now(), startedAt);
  const children: Child[] = [];

  // Every node process; any still running when this process exits, for whatever reason, is killed.
  const processes = new ChildSet();
  const killAll = (signal: NodeJS.Signals): void => processes.signalAll(signal);
  // Nodes yet to start (--start-apart) and planned kills and pauses; all cancelled when the run ends.
  const plans = new Set<NodeJS.Timeout>();
  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      plans.delete(timer);
      action();
    }, ms);
    plans.add(timer);
  };
  const notStarted = new Map<string, () => void>();
  let interruptedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (lingering) return dashboard?.stop();
    if (interruptedBy !== undefined) {
      // A second signal: stop waiting for the children to shut down.
      killAll('SIGKILL');
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    }
    interruptedBy = signal;
    board.print(`chatterbox cluster: ${signal}: stopping ${children.filter(isRunning).length} nodes`);
    for (const timer of plans) clearTimeout(timer);
    for (const giveUp of notStarted.values()) giveUp();
    killAll('SIGTERM');
    // A stopped process ignores SIGTERM until it is continued.
    killAll('SIGCONT');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);

  const disarmDeadline = (io.armDeadline ?? armTimer)(deadlineMs, () => {
    const hung = children.filter(isRunning);
    if (hung.length === 0) return;
    for (const child of hung) child.state.timedOut = true;
    board.print(`chatterbox cluster: ${hung.map((c) => c.id).join(', ')} still running after ${seconds(deadlineMs)}: killing`);
    for (const child of hung) void child.process.stop('SIGTERM', KILL_GRACE_MS);
  });
  const ticker = setInterval(() => board.tick(), board.intervalMs);

  const planFaults = (child: Child): void => {
    for (const fault of args.faults) {
      if (fault.node !== child.id) continue;
      if (fault.kind === 'kill') {
        later(fault.atMs, () => {
          if (!isRunning(child)) return;
          child.state.killedAsPlanned = true;
          board.print(`chatterbox cluster: killing ${child.id} (--kill)`);
          child.process.signal('SIGKILL');
        });
      } else {
        later(fault.atMs, () => {
          if (!isRunning(child)) return;
          board.print(`chatterbox cluster: stopping ${child.id} for ${seconds(fault.forMs)} (--pause)`);
          child.process.signal('SIGSTOP');
          later(fault.forMs, () => {
            child.process.signal('SIGCONT');
          });
        });
      }
    }
  };
  const launch = (peer: PeerAddress): Child => {
    dashboard?.addNode(peer.id);
    const child = startChild(processes, peer.id, mainPath, childArgv(args, peer, peersFile, seed, keyFile), board, args.verbose, dashboard);
    children.push(child);
    rows.push(child.progress);
    board.changed();
    planFaults(child);
    return child;
  };

  try {
    const launched = peers.map(
      (peer, i) =>
        new Promise<Child | undefined>((resolveLaunch) => {
          if (i === 0 || args.startApartMs === 0) return resolveLaunch(launch(peer));
          notStarted.set(peer.id, () => resolveLaunch(undefined));
          later(i * args.startApartMs, () => {
            notStarted.delete(peer.id);
            resolveLaunch(launch(peer));
          });
        }),
    );
    board.tick();
    const finished = await Promise.all(launched.map(async (launch) => {
      const child = await launch;
      return child === undefined ? undefined : { child, status: await child.done };
    }));
    board.finish();

    if (interruptedBy !== undefined) {
      dashboard?.finish(128 + (osConstants.signals[interruptedBy] ?? 0), [`interrupted by ${interruptedBy}`]);
      io.stderr.write(`chatterbox cluster: interrupted by ${interruptedBy}\n`);
      return 128 + (osConstants.signals[interruptedBy] ?? 0);
    }
    const outcomes: NodeOutcome[] = finished.flatMap((run) => {
      if (run === undefined) return [];
      const { child, status } = run;
      return [
        {
          id: child.id,
          stdout: child.state.stdout,
          exitCode: status.code,
          signal: status.signal,
          timedOut: child.state.timedOut,
          ...(child.state.spawnError === undefined ? {} : { spawnError: child.state.spawnError }),
          ...(child.state.maxRssKb === undefined ? {} : { maxRssKb: child.state.maxRssKb }),
          ...(child.state.killedAsPlanned ? { killedAsPlanned: true } : {}),
        },
      ];
    });
    const verdict = judge(outcomes, deadlineMs);
    await writeAll(io.stdout, args.json ? `${JSON.stringify(verdictJson(verdict, outcomes, Date.now() - startedAt))}\n` : `${verdict.lines.join('\n')}\n`);
    if (verdict.exitCode !== EXIT_AGREEMENT) io.stderr.write(`chatterbox cluster: to repeat this run: --with-seed ${seed}\n`);
    if (dashboard !== undefined && args.dashboard !== undefined) {
      dashboard.finish(verdict.exitCode, verdict.lines);
      const { lingerMs } = args.dashboard;
      if (lingerMs !== 0) {
        io.stderr.write(`chatterbox cluster: the final picture stays at ${dashboard.url} ${lingerMs === undefined ? 'until Ctrl-C' : `for ${seconds(lingerMs)}`}\n`);
        lingering = true;
        await dashboard.linger(lingerMs);
      }
    }
    return verdict.exitCode;
  } finally {
    disarmDeadline();
    for (const timer of plans) clearTimeout(timer);
    clearInterval(ticker);
    processes.close(); // kills only if something above threw while children were still running
    for (const signal of signals) process.off(signal, onSignal);
    await dashboard?.close();
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  }
}

/** `chatterbox cluster`, ready to add to the program. Sets process.exitCode; main exits after flushing. */
export function clusterCommand(): Command {
  return defineClusterCommand().action(async (_options: unknown, cmd: Command) => {
    process.exitCode = await runClusterCommand(clusterArgsFromOptions(cmd.opts(), process.env));
  });
}
