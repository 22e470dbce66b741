/**
 * `npm run bench:ranges`: how fast key-range registrations spread, in the simulator.
 *
 * Every node joins one group and registers one range of its own at a random moment in the first 100 ms; the
 * network delivers every message after 2 ms, without loss (an idealised network, like the memberlist figure we
 * compare with: gossip to 3 nodes every 200 ms reaches 1,000 nodes in about 1.6 s). We measure the virtual time
 * until every node knows every registration (then check that all answer sample lookups identically) and the
 * bytes each node sent meanwhile, for several cluster sizes, fanouts and intervals.
 *
 * Per-node bytes cannot stay flat as the cluster grows: every node must receive every registration, so the
 * state each node holds grows linearly. The figures that must stay flat (or grow at most logarithmically) are
 * the bytes each node sends per registration in the cluster, and the redundancy: bytes sent per node over the
 * bytes of the final state.
 *
 * Prints a table and writes bench-results/ranges.json. BENCH_RANGES_SIZES picks the cluster sizes (default
 * 100,300,1000; each 1,000-node setting takes about 2 minutes and 3 GB).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { KEY_SPACE_SIZE } from '../src/ranges/key-space.js';
import { rangesProtocol, rangesSyncOptions, type RangesReply, type RangesRequest, type RangesState } from '../src/ranges/protocol.js';
import type { SyncMsg, SyncOptions } from '../src/replication/delta-sync.js';
import { Simulation } from '../src/sim/simulation.js';

const OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const SIZES = (process.env.BENCH_RANGES_SIZES ?? '100,300,1000').split(',').map(Number);
const LATENCY_MS = 2;
const CHECK_EVERY_MS = 25;
const GIVE_UP_MS = 30_000;

interface Row {
  readonly nodes: number;
  readonly fanout: number;
  readonly intervalMs: number;
  /** Virtual ms from the last registration until every node knows every registration. */
  readonly convergedMs: number | null;
  readonly rounds: number | null;
  readonly bytesPerNode: number;
  /** Bytes each node sent per registration in the cluster: flat if dissemination scales. */
  readonly bytesPerNodePerRegistration: number;
  readonly messagesPerNode: number;
  readonly stateBytes: number;
  readonly redundancy: number;
  readonly identicalLookups: boolean;
  readonly wallMs: number;
}

/** Wire size of a message: its payload plus a fixed allowance for the envelope and framing. */
function sizeOf(msg: SyncMsg): number {
  return 32 + (msg.t === 'd' || msg.t === 'r' ? msg.p.length : msg.t === 'g' ? msg.digest.length : 0);
}

function run(nodeCount: number, fanout: number, intervalMs: number): Row {
  const started = performance.now();
  const nodes = Array.from({ length: nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  const options = rangesSyncOptions({ fanout, intervalMs, seed: 7 });
  const sim = new Simulation<RangesState, SyncMsg, RangesReply, SyncOptions, RangesRequest>(rangesProtocol, {
    seed: 7,
    nodes,
    optionsFor: () => options,
    network: { defaultLink: { latency: { kind: 'fixed', ms: LATENCY_MS }, lossRate: 0, duplicateRate: 0 } },
    untilMs: GIVE_UP_MS,
    sizeOf,
    maxSteps: 200_000_000,
    maxQueuedEvents: 50_000_000,
  });
  const prng = new Prng(11);
  let id = 1;
  let lastWriteMs = 0;
  const width = Math.floor(KEY_SPACE_SIZE / nodeCount);
  nodes.forEach((node, i) => {
    const at = prng.int(0, 100);
    lastWriteMs = Math.max(lastWriteMs, at);
    sim.inject(at, node, { kind: 'request', body: { id: id++, op: 'join', group: 'g' } });
    sim.inject(at, node, { kind: 'request', body: { id: id++, op: 'register', group: 'g', start: i * width, end: Math.min(KEY_SPACE_SIZE, (i + 1) * width + Math.floor(width / 2)), meta: { port: 4000 + i } } });
  });

  let convergedAt: number | null = null;
  for (let t = lastWriteMs + CHECK_EVERY_MS; t <= GIVE_UP_MS; t += CHECK_EVERY_MS) {
    sim.runUntil(t);
    if (nodes.every((n) => (sim.state(n)!.value.crdt.get('g')?.get('registrations').size ?? 0) === nodeCount)) {
      convergedAt = t;
      break;
    }
  }
  const report = sim.report();
  // The check behind the claim: every node answers the same lookups the same way.
  const keys = Array.from({ length: 50 }, (_, k) => `key-${k}`);
  const answer = (n: (typeof nodes)[number]): string => JSON.stringify(keys.map((k) => sim.state(n)!.value.lookup('g', k).map((r) => [r.node, r.priority])));
  const reference = answer(nodes[0]!);
  const identical = nodes.every((n) => answer(n) === reference);
  const stateBytes = sim.state(nodes[0]!)!.value.encode().length;
  const bytesPerNode = report.stats.bytesSent / nodeCount;
  return {
    nodes: nodeCount,
    fanout,
    intervalMs,
    convergedMs: convergedAt === null ? null : convergedAt - lastWriteMs,
    rounds: convergedAt === null ? null : Math.ceil((convergedAt - lastWriteMs) / intervalMs),
    bytesPerNode: Math.round(bytesPerNode),
    bytesPerNodePerRegistration: Math.round(bytesPerNode / nodeCount),
    messagesPerNode: Math.round(report.stats.sent / nodeCount),
    stateBytes,
    redundancy: Math.round((bytesPerNode / stateBytes) * 100) / 100,
    identicalLookups: identical,
    wallMs: Math.round(performance.now() - started),
  };
}

const rows: Row[] = [];
const configs: Array<[number, number]> = [
  [3, 200],
  [2, 200],
  [4, 200],
  [3, 100],
];
for (const nodes of SIZES) {
  for (const [fanout, intervalMs] of configs) {
    process.stderr.write(`${nodes} nodes, fanout ${fanout}, interval ${intervalMs} ms…\n`);
    rows.push(run(nodes, fanout, intervalMs));
  }
}

console.log('nodes  fanout  interval  converged  rounds  KiB sent/node  B/node/reg  msgs/node  state KiB  redundancy  identical');
for (const r of rows) {
  console.log(
    `${String(r.nodes).padStart(5)}  ${String(r.fanout).padStart(6)}  ${`${r.intervalMs} ms`.padStart(8)}  ${(r.convergedMs === null ? 'never' : `${r.convergedMs} ms`).padStart(9)}  ${String(r.rounds ?? '-').padStart(6)}  ${(r.bytesPerNode / 1024).toFixed(1).padStart(13)}  ${String(r.bytesPerNodePerRegistration).padStart(10)}  ${String(r.messagesPerNode).padStart(9)}  ${(r.stateBytes / 1024).toFixed(1).padStart(9)}  ${String(r.redundancy).padStart(10)}  ${r.identicalLookups}`,
  );
}
mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(`${OUT_DIR}ranges.json`, `${JSON.stringify({ date: new Date().toISOString(), latencyMs: LATENCY_MS, rows }, null, 2)}\n`);
console.log('written to bench-results/ranges.json');
if (rows.some((r) => r.convergedMs === null || !r.identicalLookups)) process.exitCode = 1;
