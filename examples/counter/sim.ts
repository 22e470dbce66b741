/**
 * The counter under the simulator: Maelstrom's g-counter workload on 1–5 simulated nodes per seed, with drawn
 * latency, loss, duplication, partitions, pauses and a crash with restart, the clients Maelstrom's harness plays
 * and Maelstrom's checker on the history. The kernel checks the counter's invariants after every step. A run is a
 * function of its seed, so a failure names the seed that replays it.
 *
 *   node sim.js [runs] [first seed]      exit 0 when every run is valid, 1 otherwise
 */
import { pathToFileURL } from 'node:url';
import type { Workload } from 'chatterbox/maelstrom';
import { sweepMaelstrom, type MaelstromSweep } from 'chatterbox/harness';
import { counterWorkload } from './counter.js';

/** Runs `runs` seeds from `firstSeed`, stopping at the first invalid one; `workload` is the counter unless a test swaps it. */
export function sweepCounter(firstSeed: number, runs: number, workload: Workload = counterWorkload): MaelstromSweep {
  return sweepMaelstrom('g-counter', firstSeed, runs, { hosted: workload }, { stopAtFirstFailure: true });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 20);
  const firstSeed = Number(process.argv[3] ?? 1);
  if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(firstSeed) || firstSeed < 0) {
    console.error('usage: node sim.js [runs ≥ 1] [first seed ≥ 0]');
    process.exit(2);
  }
  const sweep = sweepCounter(firstSeed, runs);
  for (const failure of sweep.failures) console.log(`seed ${failure.seed}: ${failure.problems.join('; ')}`);
  console.log(`${sweep.runs} runs, ${sweep.failures.length} invalid`);
  process.exitCode = sweep.failures.length === 0 ? 0 : 1;
}
