/** The human-readable form of a harness report (`--json` prints the report object itself). */
import type { CheckResult, Convergence, LatencySummary, OpCounts, Report } from './types.js';

export function formatCounts(c: OpCounts): string {
  return `${c.total} (ok ${c.ok}, failed ${c.failed}, indefinite ${c.indefinite})`;
}

function latency(s: LatencySummary): string {
  return `median ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms, max ${s.max} ms`;
}

function convergence(c: Convergence, nemesis: boolean): string {
  const when = nemesis ? 'after the final heal' : 'after writes stopped';
  if (c.afterHealMs === null) return `convergence ${when}: never (the final reads disagree)`;
  return `convergence ${when}: ${c.afterHealMs} ms (at most ${c.afterHealUpperMs} ms)`;
}

/** The checker's findings, a line each (without the verdict): for harness reports and simulated runs alike. */
export function formatCheck(check: CheckResult, nemesis: boolean): string[] {
  const lines: string[] = [];
  switch (check.kind) {
    case 'set':
      lines.push(
        `set: ${check.attempted} attempted, ${check.acknowledged} acknowledged, ${check.stableCount} in every final read, ${check.lostCount} lost, ${check.unexpectedCount} unexpected, ${check.duplicatedCount} duplicated, ${check.recoveredCount} recovered, ${check.neverReadCount} never read`,
      );
      if (check.visibility !== null) {
        const v = check.visibility;
        const resolution = v.resolutionMs > 0 ? `reads every ${v.resolutionMs} ms per node` : 'client reads only, no probes';
      lines.push(`visibility on all nodes, from the write's invocation (resolution: ${resolution}; median gap between bounds ${v.medianGapMs} ms):`);
        lines.push(`  at least: ${latency(v.lower)}`);
        lines.push(`  at most:  ${latency(v.upper)}`);
      }
      if (check.stableLatencies !== null) {
        const q = check.stableLatencies;
        lines.push(`maelstrom stable-latencies (from acknowledgement): {0 ${q['0']}, 0.5 ${q['0.5']}, 0.95 ${q['0.95']}, 0.99 ${q['0.99']}, 1 ${q['1']}}`);
      }
      if (check.convergence !== null) lines.push(convergence(check.convergence, nemesis));
      break;
    case 'counter':
      lines.push(
        `counter: acknowledged sum ${check.definiteSum}, ${check.indefiniteAdds} indefinite adds, acceptable ${check.acceptable.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}..${hi}`)).join(', ')}; final reads ${Object.entries(check.finalReads)
          .map(([node, v]) => `${node}=${JSON.stringify(v)}`)
          .join(' ')}`,
      );
      if (check.convergence !== null) lines.push(convergence(check.convergence, nemesis));
      break;
    case 'echo':
      lines.push(`echo: ${check.checked} checked, ${check.mismatched} mismatched, ${check.notOk} not ok`);
      break;
    case 'unique-ids':
      lines.push(`unique-ids: ${check.attempted} attempted, ${check.acknowledged} acknowledged, ${check.duplicatedCount} duplicated`);
      break;
    case 'lin-kv': {
      const count = (v: boolean | 'unknown'): number => check.keys.filter((k) => k.valid === v).length;
      lines.push(
        `lin-kv: ${check.keys.length} key${check.keys.length === 1 ? '' : 's'}, ${check.ops} operations checked in ${check.steps} search steps (at most ${check.maxStepsPerKey} per key): ` +
          `${count(true)} linearizable, ${count(false)} not, ${count('unknown')} undecided`,
      );
      break;
    }
    case 'kafka':
      lines.push(
        `kafka: ${check.sends.attempted} sends (${check.sends.acknowledged} acknowledged), ${check.polls.ok} ok polls returning ${check.polls.messages} messages, ${check.keys} keys; ${check.valid ? 'no anomalies' : `anomalies: ${Object.keys(check.errors).join(', ')}`}`,
      );
      break;
    case 'txn': {
      const e = check.edges;
      const found = Object.entries(check.counts).map(([type, n]) => `${type} ×${n}`);
      lines.push(
        `txn (${check.models.join(', ')}): ${check.verdict}; ${check.txns.ok} ok, ${check.txns.failed} failed, ${check.txns.indefinite} indefinite; edges ww ${e.ww}, wr ${e.wr}, rw ${e.rw}, realtime ${e.realtime}; ${found.length === 0 ? 'no forbidden anomaly' : found.join(', ')}`,
      );
      break;
    }
  }
  return lines;
}

export function formatReport(r: Report): string {
  const c = r.config;
  const lines: string[] = [];
  const nemesis = c.nemesis.length > 0 ? `, nemesis ${c.nemesis.join(',')} every ~${c.nemesisIntervalS} s` : '';
  const topology = c.topology === null ? '' : `, topology ${c.topology}`;
  lines.push(
    `${c.workload}: ${c.nodeCount} nodes, ${c.timeLimitS} s at ${c.rate} ops/s from ${c.concurrency} clients, latency ${c.latencyMs} ms ${c.latencyDist} (server-to-server only)${topology}${nemesis}, seed ${c.seed}`,
  );
  lines.push(`node logs, history and report: ${r.logDir}`);
  lines.push(`ops: ${formatCounts(r.ops)}`);
  for (const [f, fc] of Object.entries(r.ops.byF)) lines.push(`  ${f}: ${formatCounts(fc)}`);
  const n = r.net;
  lines.push(
    `net: ${n.serverMessages} server-to-server messages, msgs-per-op ${n.msgsPerOp ?? '-'} (servers), ${n.allMsgsPerOp ?? '-'} (all)` +
      (n.droppedByPartition > 0 ? `, ${n.droppedByPartition} dropped by partitions` : '') +
      ((n.droppedWhileDown ?? 0) > 0 ? `, ${n.droppedWhileDown} dropped for a node that was down` : '') +
      (n.lateReplies > 0 ? `, ${n.lateReplies} late replies` : ''),
  );
  if (r.probes !== null) lines.push(`probes: ${r.probes.reads} reads every ${r.probes.intervalMs} ms per node (${r.probes.failed} failed); not counted as ops`);
  if (r.nemesis !== null) {
    if (c.nemesis.includes('partition')) lines.push(`partitions: ${r.nemesis.partitions.length}; final heal at ${r.nemesis.finalHealMs} ms`);
    else lines.push(`final heal at ${r.nemesis.finalHealMs} ms`);
    for (const p of r.nemesis.partitions) lines.push(`  ${p.startMs}–${p.endMs} ms ${p.kind}: ${p.description}`);
    const processes = r.nemesis.processes ?? [];
    if (processes.length > 0 || c.nemesis.includes('kill') || c.nemesis.includes('pause')) {
      lines.push(`kills and pauses: ${processes.length}${c.nodeDataDir === undefined || c.nodeDataDir === null ? '' : `; nodes keep their state in ${c.nodeDataDir}`}`);
      for (const e of processes) {
        const back = e.kind === 'kill' ? `restarted at ${e.endMs} ms, init ok ${e.initOkMs === null || e.initOkMs === undefined ? 'never' : `at ${e.initOkMs} ms`}` : `resumed at ${e.endMs} ms`;
        lines.push(`  ${e.startMs} ms ${e.kind} ${e.node}, ${back}`);
      }
    }
  }
  if (r.cpu !== undefined) {
    const nodes = r.cpu.nodesMs === null ? 'unknown (no /proc)' : `${r.cpu.nodesMs} ms`;
    const share = r.cpu.nodesMs === null || r.cpu.nodesMs === 0 ? '' : ` (${Math.round((100 * r.cpu.harnessMs) / r.cpu.nodesMs)}% of the nodes')`;
    lines.push(`cpu: harness ${r.cpu.harnessMs} ms${share}, nodes ${nodes}`);
  }
  if (r.recovery !== null) {
    const why = r.recovery.endedBy === 'convergence' ? 'every node had converged' : 'the whole recovery';
    lines.push(`recovery: ${r.recovery.waitedMs} ms before the final reads (${why})`);
  }
  if (r.check !== null) lines.push(...formatCheck(r.check, r.nemesis !== null));
  if (r.valid) lines.push('VALID');
  else if (r.unknown) {
    lines.push('UNKNOWN: no problem found, but the checkers could not decide:');
    for (const why of r.undecided) lines.push(`  ${why}`);
  }
  else {
    lines.push('INVALID:');
    for (const p of r.problems) lines.push(`  - ${p}`);
  }
  return `${lines.join('\n')}\n`;
}
