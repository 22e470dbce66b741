/**
 * `npm run bench:agreement`: the agreement job on 5 real processes on loopback, lockstep and stream side by
 * side in one run (these machines are noisy: compare ratios, not absolute figures across runs).
 *
 * For each configuration it runs `chatterbox cluster --json` and reads the agreed count, the elapsed time and
 * every node's peak RSS. A short stream run beside the long one shows whether memory grows with the run. Runs
 * with nodes started apart and with a node killed mid-run check the headline promise under load: every live node
 * prints the same line; any disagreement fails the benchmark.
 * Prints a table and writes bench-results/agreement.json.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const NODES = 5;
const SEND_FOR_S = Number(process.env.BENCH_SEND_FOR ?? 10);
const WAIT_FOR_S = 5;

interface ClusterJson {
  readonly agreed: boolean;
  readonly line: string | null;
  readonly nodes: ReadonlyArray<{ id: string; line: string | null; exitCode: number | null; killed: boolean; maxRssKb: number | null }>;
}

interface Run {
  readonly label: string;
  readonly protocol: string;
  readonly sendForS: number;
  /** Extra `chatterbox cluster` flags: nodes started apart, a node killed. */
  readonly flags: readonly string[];
}

interface Measurement extends Run {
  readonly agreed: boolean;
  readonly liveNodes: number;
  readonly messages: number;
  readonly messagesPerSecond: number;
  readonly peakRssKb: number[];
}

async function measure(run: Run): Promise<Measurement> {
  const args = [MAIN, 'cluster', '--json', '--nodes', String(NODES), '--send-for', String(run.sendForS), '--wait-for', String(WAIT_FOR_S), '--with-seed', '1', '--protocol', run.protocol, ...run.flags];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 << 20 }));
  } catch (error) {
    // Exit 1 (disagreement) and 3 (a node failed) still print the verdict.
    stdout = typeof error === 'object' && error !== null && 'stdout' in error && typeof error.stdout === 'string' ? error.stdout : '';
  }
  const result = JSON.parse(stdout) as ClusterJson;
  const messages = Number(/^\((\d+),/.exec(result.line ?? '')?.[1] ?? 0);
  const live = result.nodes.filter((n) => !n.killed);
  return {
    ...run,
    agreed: result.agreed,
    liveNodes: live.length,
    messages,
    messagesPerSecond: Math.round(messages / run.sendForS),
    peakRssKb: live.map((n) => n.maxRssKb ?? 0),
  };
}

// Half a second between starts: the last node starts 2 s after the first, the promised half of the grace period.
const APART_S = 0.5;
const plan: Run[] = [
  { label: 'lockstep', protocol: 'lockstep', sendForS: SEND_FOR_S, flags: [] },
  { label: 'stream', protocol: 'stream', sendForS: SEND_FOR_S, flags: [] },
  { label: 'stream, short', protocol: 'stream', sendForS: SEND_FOR_S / 2, flags: [] },
  { label: 'stream, started apart', protocol: 'stream', sendForS: SEND_FOR_S, flags: ['--start-apart', String(APART_S)] },
  { label: 'lockstep, started apart', protocol: 'lockstep', sendForS: SEND_FOR_S, flags: ['--start-apart', String(APART_S)] },
  { label: 'stream, n3 killed', protocol: 'stream', sendForS: SEND_FOR_S, flags: ['--kill', `n3@${SEND_FOR_S / 3}`] },
  { label: 'lockstep, n3 killed', protocol: 'lockstep', sendForS: SEND_FOR_S, flags: ['--kill', `n3@${SEND_FOR_S / 3}`] },
];

const runs: Measurement[] = [];
for (const run of plan) {
  process.stderr.write(`running ${run.label} for ${run.sendForS} s…\n`);
  runs.push(await measure(run));
}
const [lockstep, stream, streamShort] = runs as [Measurement, Measurement, Measurement];
const maxRss = (m: Measurement): number => Math.max(...m.peakRssKb);
const summary = {
  date: new Date().toISOString(),
  nodes: NODES,
  sendForS: SEND_FOR_S,
  waitForS: WAIT_FOR_S,
  runs,
  streamOverLockstep: Math.round(stream.messagesPerSecond / Math.max(1, lockstep.messagesPerSecond)),
  rssLongOverShort: Number((maxRss(stream) / Math.max(1, maxRss(streamShort))).toFixed(2)),
  allAgreed: runs.every((m) => m.agreed),
};
for (const m of runs) {
  console.log(
    `${m.label.padEnd(24)} ${String(m.sendForS).padStart(4)} s  ${m.agreed ? `all ${m.liveNodes} live agreed` : 'DISAGREED'}  ` +
      `${m.messages.toLocaleString('en')} messages, ${m.messagesPerSecond.toLocaleString('en')}/s; peak RSS per node ${m.peakRssKb.map((kb) => `${Math.round(kb / 1024)}`).join('/')} MiB`,
  );
}
console.log(`stream / lockstep: ${summary.streamOverLockstep}×; stream peak RSS, ${SEND_FOR_S} s run over ${SEND_FOR_S / 2} s run: ${summary.rssLongOverShort}`);
mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(`${OUT_DIR}agreement.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`written to bench-results/agreement.json`);
if (!summary.allAgreed) {
  console.log('DISAGREEMENT in some run: that is a bug');
  process.exitCode = 1;
}
