/**
 * `npm run bench:agreement`: the agreement job on 5 real processes on loopback, lockstep and stream side by
 * side in one run (these machines are noisy: compare ratios, not absolute figures across runs).
 *
 * For each configuration it runs `chatterbox cluster --json` and reads the agreed count, the elapsed time and
 * every node's peak RSS. A short stream run beside the long one shows whether memory grows with the run.
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
  readonly nodes: ReadonlyArray<{ id: string; line: string | null; exitCode: number | null; maxRssKb: number | null }>;
}

interface Measurement {
  readonly protocol: string;
  readonly sendForS: number;
  readonly agreed: boolean;
  readonly messages: number;
  readonly messagesPerSecond: number;
  readonly peakRssKb: number[];
}

async function measure(protocol: string, sendForS: number): Promise<Measurement> {
  const args = [MAIN, 'cluster', '--json', '--nodes', String(NODES), '--send-for', String(sendForS), '--wait-for', String(WAIT_FOR_S), '--with-seed', '1', '--protocol', protocol];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 << 20 });
  const result = JSON.parse(stdout) as ClusterJson;
  const messages = Number(/^\((\d+),/.exec(result.line ?? '')?.[1] ?? 0);
  return {
    protocol,
    sendForS,
    agreed: result.agreed,
    messages,
    messagesPerSecond: Math.round(messages / sendForS),
    peakRssKb: result.nodes.map((n) => n.maxRssKb ?? 0),
  };
}

const runs: Measurement[] = [];
for (const [protocol, sendFor] of [['lockstep', SEND_FOR_S], ['stream', SEND_FOR_S], ['stream', SEND_FOR_S / 2]] as const) {
  process.stderr.write(`running ${protocol} for ${sendFor} s…\n`);
  runs.push(await measure(protocol, sendFor));
}
const [lockstep, stream, streamShort] = runs as [Measurement, Measurement, Measurement];
const maxRss = (m: Measurement): number => Math.max(...m.peakRssKb);
const summary = {
  date: new Date().toISOString(),
  nodes: NODES,
  sendForS: SEND_FOR_S,
  runs,
  streamOverLockstep: Math.round(stream.messagesPerSecond / Math.max(1, lockstep.messagesPerSecond)),
  rssLongOverShort: Number((maxRss(stream) / Math.max(1, maxRss(streamShort))).toFixed(2)),
};
for (const m of runs) {
  console.log(`${m.protocol.padEnd(8)} ${String(m.sendForS).padStart(4)} s  ${m.agreed ? 'agreed' : 'DISAGREED'}  ${m.messages.toLocaleString('en')} messages, ${m.messagesPerSecond.toLocaleString('en')}/s; peak RSS per node ${m.peakRssKb.map((kb) => `${Math.round(kb / 1024)}`).join('/')} MiB`);
}
console.log(`stream / lockstep: ${summary.streamOverLockstep}×; stream peak RSS, ${SEND_FOR_S} s run over ${SEND_FOR_S / 2} s run: ${summary.rssLongOverShort}`);
mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(`${OUT_DIR}agreement.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`written to bench-results/agreement.json`);
if (runs.some((m) => !m.agreed)) process.exitCode = 1;
