/**
 * `npm run bench:startup`: how soon a chatterbox process answers its first message, against a bare `node` script
 * that does the same, side by side in one run (these machines are noisy: compare the ratios, not absolute figures
 * across runs). Maelstrom gives every node 10 s to answer `init`, and `chatterbox node` counts its deadlines from
 * process start, so start-up time is time taken from the run.
 *
 * (a) one process: spawn → `init_ok` on stdout, `chatterbox maelstrom` against a bare script that reads the `init`
 *     line with node:readline and writes the same `init_ok` line (the floor: starting node itself).
 * (b) 25 processes of each started at once: spawn of the first → the last `init_ok` (on a 2-core machine this is
 *     CPU-bound, so it shows what every process costs, not just how long one waits).
 * (c) `chatterbox node` (a one-node cluster): spawn → its "node started" log line, which it writes once it listens,
 *     against a bare script that listens on the same port and then writes one JSON line on stderr.
 *
 * Rounds alternate chatterbox and bare (A B A B …) after one warm-up round of each; the ratio is taken pair by pair
 * and its median reported, so the comparison holds while the machine's speed drifts. Targets: (a) ≤ 2×, (b) ≤ 1.5×.
 * Prints a table and writes bench-results/startup.json. BENCH_STARTUP_ROUNDS and BENCH_STARTUP_CROWD_ROUNDS set the
 * number of counted rounds.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../src/supervisor/free-port.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 15);
const CROWD_ROUNDS = Number(process.env.BENCH_STARTUP_CROWD_ROUNDS ?? 5);
/** Processes started at once in (b): the node count that failed to set up under the real Maelstrom. */
const CROWD = 25;
/** Targets from the issue: chatterbox over bare, median of the pair ratios. */
const TARGET_ONE = 2;
const TARGET_CROWD = 1.5;
/** A process that has not answered by then is stuck, not slow: the bench stops with an error. */
const ANSWER_TIMEOUT_MS = 60_000;

const INIT = { src: 'c0', dest: 'n1', body: { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1'] } };

/** The floor for (a) and (b): node itself starting, reading one line and writing one, the way the node does. */
const BARE_MAELSTROM = `import { createInterface } from 'node:readline';
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.once('line', (line) => {
  const message = JSON.parse(line);
  const body = { type: 'init_ok', msg_id: 1, in_reply_to: message.body.msg_id };
  process.stdout.write(JSON.stringify({ src: message.body.node_id, dest: message.src, body }) + '\\n');
});
`;

/** The floor for (c): listen on the port given, then log one JSON line on stderr, as the node does once it listens. */
const BARE_LISTENER = `import { createServer } from 'node:net';
const [host, port] = process.argv.slice(2);
const server = createServer();
server.listen({ host, port: Number(port) }, () => {
  process.stderr.write(JSON.stringify({ level: 30, time: new Date().toISOString(), msg: 'node started' }) + '\\n');
  server.close();
});
`;

interface Summary {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

interface Comparison {
  readonly what: string;
  readonly chatterboxMs: Summary;
  readonly bareMs: Summary;
  /** chatterbox / bare, pair by pair. */
  readonly ratio: Summary;
  readonly target: number | null;
}

interface Process {
  /** Milliseconds from `startMs` until `isAnswer` saw its line. */
  readonly answered: Promise<number>;
  /** Closes stdin (a Maelstrom node exits then) and ends the process; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Spawns `node argv`, writes `input` to its stdin, and times from `startMs` until a line of `stream` satisfies
 * `isAnswer`. The process keeps running until `stop`, so whatever it does after answering competes with the others
 * in (b) as it would under Maelstrom.
 */
function startProcess(argv: readonly string[], input: string, stream: 'stdout' | 'stderr', isAnswer: (line: string) => boolean, startMs: number): Process {
  const child = spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => {}); // a process that exits before reading its stdin is reported below, not by EPIPE
  child.stdin.write(input);
  let seen = ''; // everything the process wrote, for the error message if it never answers
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const answered = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms from node ${argv.join(' ')}`)), ANSWER_TIMEOUT_MS);
    let pending = '';
    const watched = stream === 'stdout' ? child.stdout : child.stderr;
    watched.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (isAnswer(line)) {
          clearTimeout(timer);
          resolve(performance.now() - startMs);
          return;
        }
      }
    });
    (stream === 'stdout' ? child.stderr : child.stdout).on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${argv.join(' ')} exited (${code}) before answering:\n${seen.slice(-2000)}`));
    });
  });
  const stop = (): Promise<void> => {
    child.stdin.end();
    child.kill();
    return exited;
  };
  return { answered, stop };
}

function isInitOk(line: string): boolean {
  try {
    const message = JSON.parse(line) as { body?: { type?: unknown } };
    return message.body?.type === 'init_ok';
  } catch {
    return false;
  }
}

const isNodeStarted = (line: string): boolean => line.includes('"msg":"node started"');

/** Starts `count` processes back to back; resolves with the time from the first spawn to the last answer. */
async function crowd(count: number, argv: () => readonly string[], input: string): Promise<number> {
  const startMs = performance.now();
  const processes = Array.from({ length: count }, () => startProcess(argv(), input, 'stdout', isInitOk, startMs));
  const times = await Promise.all(processes.map((p) => p.answered));
  await Promise.all(processes.map((p) => p.stop()));
  return Math.max(...times);
}

async function once(argv: readonly string[], input: string, stream: 'stdout' | 'stderr', isAnswer: (line: string) => boolean): Promise<number> {
  const p = startProcess(argv, input, stream, isAnswer, performance.now());
  const ms = await p.answered;
  await p.stop();
  return ms;
}

/** One warm-up pair (file cache, JIT of this process), then `rounds` alternating pairs. */
async function compare(what: string, rounds: number, target: number | null, chatterbox: () => Promise<number>, bare: () => Promise<number>): Promise<Comparison> {
  process.stderr.write(`${what}: ${rounds} rounds…\n`);
  await chatterbox();
  await bare();
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    ours.push(await chatterbox());
    theirs.push(await bare());
  }
  return { what, chatterboxMs: summarize(ours), bareMs: summarize(theirs), ratio: summarize(ours.map((ms, i) => ms / (theirs[i] as number))), target };
}

function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { min: round(sorted[0] as number), median: round(median), max: round(sorted[sorted.length - 1] as number) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

const dir = mkdtempSync(join(tmpdir(), 'chatterbox-startup-'));
try {
  const bareMaelstrom = join(dir, 'bare-maelstrom.mjs');
  const bareListener = join(dir, 'bare-listener.mjs');
  writeFileSync(bareMaelstrom, BARE_MAELSTROM);
  writeFileSync(bareListener, BARE_LISTENER);
  const initLine = `${JSON.stringify(INIT)}\n`;
  const loadBefore = loadavg();

  const one = await compare(
    '(a) maelstrom: spawn → init_ok',
    ROUNDS,
    TARGET_ONE,
    () => once([MAIN, 'maelstrom'], initLine, 'stdout', isInitOk),
    () => once([bareMaelstrom], initLine, 'stdout', isInitOk),
  );
  const many = await compare(
    `(b) ${CROWD} maelstrom at once: → all init_ok`,
    CROWD_ROUNDS,
    TARGET_CROWD,
    () => crowd(CROWD, () => [MAIN, 'maelstrom'], initLine),
    () => crowd(CROWD, () => [bareMaelstrom], initLine),
  );
  // (c) a one-node cluster: the node listens, logs "node started", sends for 0 s and stops (or is ended by us).
  const peersFile = join(dir, 'peers.json');
  const node = await compare(
    '(c) node: spawn → "node started"',
    ROUNDS,
    null,
    async () => {
      const [port] = (await freePorts(1)) as [number];
      writeFileSync(peersFile, JSON.stringify([{ id: 'n1', host: '127.0.0.1', port }]));
      return once([MAIN, 'node', '-p', String(port), '--peer-config-file', peersFile, '--with-seed', '1', '--send-for', '0'], '', 'stderr', isNodeStarted);
    },
    async () => {
      const [port] = (await freePorts(1)) as [number];
      return once([bareListener, '127.0.0.1', String(port)], '', 'stderr', isNodeStarted);
    },
  );

  const comparisons = [one, many, node];
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    loadAverage1m: { before: round(loadBefore[0] as number), after: round(loadavg()[0] as number) },
    rounds: ROUNDS,
    crowdRounds: CROWD_ROUNDS,
    crowd: CROWD,
    comparisons,
  };

  const fmt = (s: Summary): string => `${s.min.toFixed(0)} / ${s.median.toFixed(0)} / ${s.max.toFixed(0)}`.padStart(18);
  console.log(`node ${process.version}, ${summary.cpus} CPUs, load average ${summary.loadAverage1m.before} before, ${summary.loadAverage1m.after} after`);
  console.log(`ms, min / median / max                      chatterbox           bare node   ratio (median of pairs)  target`);
  for (const c of comparisons) {
    const verdict = c.target === null ? '' : `≤ ${c.target}×: ${c.ratio.median <= c.target ? 'met' : 'MISSED'}`;
    console.log(`${c.what.padEnd(44)}${fmt(c.chatterboxMs)}  ${fmt(c.bareMs)}   ${`${c.ratio.median.toFixed(2)}× (${c.ratio.min.toFixed(2)}–${c.ratio.max.toFixed(2)})`.padEnd(22)} ${verdict}`);
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(`${OUT_DIR}startup.json`, `${JSON.stringify(summary, null, 2)}\n`);
  console.log('written to bench-results/startup.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
