/**
 * `chatterbox sim --report FILE`: one seed, run with its trace recorded, written as a self-contained HTML page
 * (src/sim/report.ts). A seed that fails an assertion (a protocol invariant, a bound) still gets its page, with
 * the assertion, its node and its time highlighted; the command then exits 1 as any failing run does.
 */
import { writeFileSync } from 'node:fs';
import type { NodeId } from '../core/ids.js';
import { drawMaelstromScenario, runMaelstromScenario, type MaelstromDraw, type SimWorkload } from '../harness/simulated.js';
import { fileErrorText, UsageError } from '../platform/user-errors.js';
import type { Fault } from '../sim/faults.js';
import { faultBands, simReportHtml, type SimFailure } from '../sim/report.js';
import { OPERATIONS_CSS, operationSections } from '../harness/report-page.js';
import { readChartAssets } from '../platform/chart-assets.js';
import { drawAgreementScenario, runAgreementScenario, type ScenarioDraw } from '../sim/scenarios/agreement.js';
import { SimulationError, type SimLogEntry } from '../sim/simulation.js';
import { recordTrace, type RecordedTrace } from '../sim/trace.js';
import type { AgreementProtocolName } from '../agreement/protocols.js';

export interface SimPictureRun {
  readonly title: string;
  readonly seed: number;
  readonly nodes: readonly NodeId[];
  readonly faults: readonly Fault[];
  readonly settings: ReadonlyArray<readonly [string, string]>;
  readonly replay: string;
  /** Runs the scenario with `observe` attached to its simulation; returns the problems its checks found and where it ended. */
  readonly run: (observe: (trace: RecordedTrace) => void) => { problems: readonly string[]; endedAtMs: number; logs: readonly SimLogEntry[]; extra?: string };
}

/** Runs `picture`, writes its page to `file`; 0 when it passed, 1 when it failed. */
export function writeSimReport(picture: SimPictureRun, file: string, printed: readonly string[], out: (line: string) => void): number {
  let trace: RecordedTrace = { events: [], total: 0 };
  let problems: readonly string[] = [];
  let endedAtMs = 0;
  let logs: readonly SimLogEntry[] = [];
  let extra: string | undefined;
  let failure: SimFailure | undefined;
  try {
    const result = picture.run((t) => {
      trace = t;
    });
    problems = result.problems;
    endedAtMs = result.endedAtMs;
    logs = result.logs;
    extra = result.extra;
  } catch (error) {
    if (!(error instanceof SimulationError)) throw error;
    failure = { text: error.message, node: error.node ?? null, atMs: error.atMs ?? null };
    endedAtMs = error.atMs ?? trace.events[trace.events.length - 1]?.atMs ?? 0;
    logs = error.recentLogs;
    out(`FAILED: ${error.message}`);
  }
  const html = simReportHtml({
    title: picture.title,
    seed: picture.seed,
    nodes: picture.nodes,
    faults: picture.faults,
    endedAtMs,
    trace,
    settings: picture.settings,
    problems,
    ...(failure === undefined ? {} : { failure }),
    printed,
    replay: picture.replay,
    logs,
    ...(extra === undefined ? {} : { extra: { html: extra, assets: readChartAssets(), css: OPERATIONS_CSS } }),
  });
  try {
    writeFileSync(file, html);
  } catch (error) {
    throw new UsageError(`--report ${file}: ${fileErrorText(error)}`);
  }
  out(`report: ${file}`);
  return failure === undefined && problems.length === 0 ? 0 : 1;
}

/** The agreement job's seed, as a picture. */
export function agreementPicture(seed: number, protocol: AgreementProtocolName, draw: ScenarioDraw, replay: string, describe: (v: ReturnType<typeof runAgreementScenario>) => void): SimPictureRun {
  const scenario = drawAgreementScenario(seed, protocol, draw);
  return {
    title: `agreement job, protocol ${protocol}${protocol === 'stream' ? ` (${scenario.tuning} tuning)` : ''}`,
    seed,
    nodes: scenario.nodes,
    faults: scenario.faults,
    settings: [
      ['protocol', protocol],
      ['nodes', String(scenario.nodes.length)],
      ['send-for', `${scenario.sendForMs} ms`],
      ['wait-for', `${scenario.waitForMs} ms`],
      ['starts', scenario.nodes.map((n) => `${n} ${scenario.startAtMs.get(n) ?? 0}+${scenario.initDelayMs.get(n) ?? 0} ms`).join(', ')],
      ['network', JSON.stringify(scenario.network.defaultLink)],
      ['faults', String(scenario.faults.length)],
    ],
    replay,
    run: (observe) => {
      const verdict = runAgreementScenario(scenario, (sim) => observe(recordTrace(sim)));
      describe(verdict);
      return { problems: verdict.problems, endedAtMs: verdict.report.endedAtMs, logs: verdict.report.logs };
    },
  };
}

/** A shipped Maelstrom workload's seed, as a picture (client requests and replies show as requests and outputs). */
export function workloadPicture(seed: number, workload: SimWorkload, draw: MaelstromDraw, replay: string, describe: (v: ReturnType<typeof runMaelstromScenario>) => void): SimPictureRun {
  const scenario = drawMaelstromScenario(seed, workload, draw);
  return {
    title: `${workload} workload${workload === 'lin-kv' || workload === 'kafka' ? '' : `, preset ${scenario.preset}`}`,
    seed,
    nodes: scenario.nodes,
    faults: scenario.faults,
    settings: [
      ['workload', workload],
      ['nodes', String(scenario.nodes.length)],
      ['time limit', `${scenario.timeLimitMs} ms`],
      ['rate', `${scenario.rate} ops/s from ${scenario.concurrency} clients`],
      ['network', JSON.stringify(scenario.network.defaultLink)],
      ['faults', String(scenario.faults.length)],
    ],
    replay,
    run: (observe) => {
      let endedAtMs = 0;
      const verdict = runMaelstromScenario(scenario, (sim) => {
        observe(recordTrace(sim));
        sim.onTrace((e) => {
          endedAtMs = e.atMs;
        });
      });
      describe(verdict);
      // The harness's own sections: the verdict with its anomalies linked to the operations, the charts, the timeline.
      const sections = operationSections({
        nodes: scenario.nodes,
        ops: verdict.history,
        check: verdict.check,
        workload,
        valid: verdict.valid,
        unknown: verdict.unknown,
        problems: verdict.problems,
        undecided: verdict.undecided,
        bands: faultBands(scenario.faults, endedAtMs),
        durationMs: endedAtMs,
      });
      const extra = [
        '<h2>Verdict</h2>',
        sections.verdict,
        '<h2>Latency and throughput</h2>',
        sections.charts,
        '<h2>Operations</h2>',
        '<p class="sub">One row per client (its node after the arrow), each operation from invocation to completion; operations named in the verdict are outlined.</p>',
        sections.timeline,
      ].join('\n');
      return { problems: verdict.problems, endedAtMs, logs: [], extra };
    },
  };
}
