/**
 * The picture of a replayed test seed: with CHATTERBOX_PICTURE=FILE (and CHATTERBOX_SEED=N), every simulation a
 * test builds is traced (`recordTrace`), and when a `withSeed` check settles its simulation is written to FILE as
 * the page `chatterbox sim --report` writes (src/sim/report.ts), the failure highlighted when it failed.
 *
 * tools/run-tests.mjs preloads this module (`--import`) into every test process when CHATTERBOX_PICTURE is set, so
 * no test file imports it; `installPicture` is exported for the test of this module. The env is read here, not in
 * src/sim, which only offers the two listener hooks.
 *
 * Which simulation: a check may build several for one seed (a run, then its mutation; one per preset). The page
 * shows the last one that failed (its trace holds a failure), else the last one built. Several checks may replay
 * the same seed in one file: a failing check's page is never overwritten by a later passing one.
 */
import { writeFileSync } from 'node:fs';
import { simReportHtml, type SimFailure } from '../../src/sim/report.js';
import { onSeedSettled, onSimulationCreated, PICTURE_ENV, REPLAY_SEED_ENV, SimulationError, testFilter, type AnySimulation } from '../../src/sim/simulation.js';
import { recordTrace, type RecordedTrace } from '../../src/sim/trace.js';

interface Traced {
  readonly sim: AnySimulation;
  readonly trace: RecordedTrace;
}

/** How deep a cause chain is searched for the SimulationError that carries the run's logs (chains are short). */
const MAX_CAUSE_DEPTH = 8;

function failedIn(t: Traced): boolean {
  return t.trace.events.some((e) => e.kind === 'failure');
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function simulationErrorIn(e: unknown): SimulationError | undefined {
  let at: unknown = e;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && at instanceof Error; depth++) {
    if (at instanceof SimulationError) return at;
    at = at.cause;
  }
  return undefined;
}

/** The page of one settled seed, from the simulation chosen for it. */
export function seedPageHtml(chosen: Traced, seed: number, label: string, error: { readonly thrown: unknown } | undefined, script: string | undefined): string {
  const { sim, trace } = chosen;
  const last = trace.events[trace.events.length - 1]?.atMs ?? 0;
  const inTrace = [...trace.events].reverse().find((e) => e.kind === 'failure');
  const simError = error === undefined ? undefined : simulationErrorIn(error.thrown);
  let failure: SimFailure | undefined;
  if (inTrace !== undefined && inTrace.kind === 'failure') failure = { text: inTrace.text, node: inTrace.node, atMs: inTrace.atMs };
  else if (error !== undefined) failure = { text: describe(error.thrown), node: simError?.node ?? null, atMs: simError?.atMs ?? Math.max(last, sim.nowMs) };
  const endedAtMs = failure?.atMs ?? Math.max(last, sim.nowMs);
  const filter = testFilter(script);
  const replay = `${REPLAY_SEED_ENV}=${seed} npm test${filter === undefined ? '' : ` -- ${filter}`}`;
  return simReportHtml({
    title: `${label} (test ${filter ?? script ?? 'unknown'})`,
    seed,
    nodes: sim.nodes,
    faults: sim.faults,
    endedAtMs,
    trace,
    settings: [
      ['check', label],
      ['test file', filter ?? script ?? 'unknown'],
      ['nodes', String(sim.nodes.length)],
      ['faults', String(sim.faults.length)],
      ['ended at', `${sim.nowMs} ms`],
    ],
    // A check that failed after its run (an assertion on the outputs) is the verdict as well as the failure.
    problems: error === undefined || inTrace !== undefined ? [] : [describe(error.thrown)],
    ...(failure === undefined ? {} : { failure }),
    replay,
    logs: simError?.recentLogs ?? [],
  });
}

/**
 * Traces every simulation built from now on and writes the page of each settled seed to `file` (`write` is
 * node:fs's writeFileSync and `say` a line on stderr unless a test passes its own). Returns the function that stops it.
 */
export function installPicture(
  file: string,
  script: string | undefined = process.argv[1],
  write: (file: string, html: string) => void = writeFileSync,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): () => void {
  let latest: Traced | undefined;
  let latestFailed: Traced | undefined;
  let failurePageWritten = false;
  const stopCreated = onSimulationCreated((sim) => {
    // Only the latest and the latest failed are kept: a sweep builds many simulations, each trace is bounded.
    if (latest !== undefined && failedIn(latest)) latestFailed = latest;
    latest = { sim, trace: recordTrace(sim) };
  });
  const stopSettled = onSeedSettled((seed, label, error) => {
    const chosen = latest !== undefined && failedIn(latest) ? latest : (latestFailed ?? latest);
    latest = undefined;
    latestFailed = undefined;
    if (chosen === undefined) {
      say(`${PICTURE_ENV}: ${label} (seed ${seed}) built no simulation to draw`);
      return;
    }
    if (error === undefined && failurePageWritten) return;
    try {
      write(file, seedPageHtml(chosen, seed, label, error, script));
    } catch (e) {
      // A listener must not throw (it would replace the test's own error): say why no page was written.
      say(`${PICTURE_ENV}: could not write ${file}: ${describe(e)}`);
      return;
    }
    if (error !== undefined) failurePageWritten = true;
    say(`${PICTURE_ENV}: ${label} (seed ${seed}${error === undefined ? '' : ', failed'}) drawn in ${file}`);
  });
  return () => {
    stopCreated();
    stopSettled();
  };
}

const file = process.env[PICTURE_ENV];
if (file !== undefined && file !== '') installPicture(file);
