#!/usr/bin/env node
/** `npm run test:soak`: runs `npm test` again and again to catch tests that fail only now and then (see HELP). */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HELP = `usage: npm run test:soak -- [--runs N] [--load K] [--fresh] [--out FILE] [-- <npm test arguments>]

Runs \`npm test\` N times and says which tests failed in which runs.

  --runs N    how many runs (default: $SOAK_RUNS, else 10)
  --load K    keep K \`yes > /dev/null\` processes running throughout, each keeping a core busy (default 0)
  --fresh     run in a fresh \`git clone\` of this repository's committed HEAD, after \`npm ci\` there, as CI
              does (uncommitted changes are not in the clone)
  --out FILE  where the JSON summary goes (default bench-results/soak.json)
  -- ...      passed to \`npm test\` (tools/run-tests.mjs), e.g. \`-- process/\` for the process tests only

Prints each run's verdict with the names of the failed tests, then a summary; keeps each failed run's whole
output in bench-results/soak-logs/; exits 1 if any run failed. Not part of \`npm test\`.`;

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DEFAULT_RUNS = 10;
/** More runs than this is a typo, not a soak (each run takes a couple of minutes). */
const MAX_RUNS = 1000;
/** More busy processes than this would test the machine, not the suite. */
const MAX_LOAD = 64;

function usage(message) {
  console.error(`soak: ${message}\n${HELP.split('\n')[0]}`);
  process.exit(2);
}

function wholeNumber(flag, raw, min, max) {
  if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) usage(`${flag}: expected a whole number ${min}..${max}, got ${JSON.stringify(raw ?? '')}`);
  return Number(raw);
}

function parseArgs(argv) {
  const envRuns = process.env['SOAK_RUNS'];
  const args = {
    runs: envRuns === undefined || envRuns === '' ? DEFAULT_RUNS : wholeNumber('SOAK_RUNS', envRuns, 1, MAX_RUNS),
    load: 0,
    fresh: false,
    out: join(ROOT, 'bench-results', 'soak.json'),
    testArgs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      args.testArgs = argv.slice(i + 1);
      break;
    } else if (arg === '--runs') args.runs = wholeNumber('--runs', argv[++i], 1, MAX_RUNS);
    else if (arg === '--load') args.load = wholeNumber('--load', argv[++i], 0, MAX_LOAD);
    else if (arg === '--fresh') args.fresh = true;
    else if (arg === '--out') {
      const out = argv[++i];
      if (out === undefined || out === '') usage('--out: expected a file name');
      args.out = out;
    } else if (arg === '--help' || arg === '-h') {
      console.log(HELP);
      process.exit(0);
    } else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  return args;
}

/** Runs a command to completion with its output appended to `logPath`; resolves with its exit code. */
function run(command, args, cwd, logPath, env = {}) {
  return new Promise((resolve) => {
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('error', (error) => {
      log.end(`\nsoak: could not start ${command}: ${error.message}\n`, () => resolve(127));
    });
    child.on('close', (code, signal) => log.end(() => resolve(code ?? (signal === null ? 1 : 128))));
  });
}

/** The failed tests tools/failures-reporter.mjs wrote, with file names relative to dist/test. */
function readFailures(path, checkout) {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const tests = join(checkout, 'dist', 'test');
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const failure = JSON.parse(line);
      return { ...failure, file: failure.file.startsWith(tests) ? relative(tests, failure.file) : failure.file };
    });
}

const args = parseArgs(process.argv.slice(2));
const resultsDir = dirname(args.out);
const logsDir = join(ROOT, 'bench-results', 'soak-logs');
mkdirSync(resultsDir, { recursive: true });
rmSync(logsDir, { recursive: true, force: true }); // a previous soak's logs would pass for this one's
mkdirSync(logsDir, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), 'chatterbox-soak-'));

// Busy processes, and making sure they die with us whatever happens.
const busy = [];
const stopLoad = () => {
  for (const p of busy) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
};
process.on('exit', () => {
  stopLoad();
  rmSync(scratch, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`soak: ${signal}: stopping`);
    process.exit(130);
  });
}
if (args.load > 0) {
  const devNull = openSync('/dev/null', 'w');
  for (let i = 0; i < args.load; i++) {
    const child = spawn('yes', [], { stdio: ['ignore', devNull, 'ignore'] });
    child.unref(); // a running busy loop must not keep this process alive; stopLoad ends it
    busy.push(child);
  }
  closeSync(devNull);
}

let checkout = ROOT;
const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
if (args.fresh) {
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  if (dirty !== '') console.log('soak: note: uncommitted changes are not in the fresh clone');
  checkout = join(scratch, 'chatterbox');
  const setupLog = join(logsDir, 'fresh-setup.log');
  writeFileSync(setupLog, '');
  console.log(`soak: cloning ${commit.slice(0, 12)} into ${checkout} and running npm ci (log: ${relative(ROOT, setupLog)})`);
  if ((await run('git', ['clone', '--quiet', ROOT, checkout], ROOT, setupLog)) !== 0 || (await run('npm', ['ci', '--no-audit', '--no-fund'], checkout, setupLog)) !== 0) {
    console.error(`soak: the fresh clone could not be set up; see ${setupLog}`);
    process.exit(1);
  }
}

console.log(
  `soak: ${args.runs} runs of npm test${args.testArgs.length > 0 ? ` -- ${args.testArgs.join(' ')}` : ''}` +
    `${args.fresh ? ' in a fresh clone' : ''}, ${args.load} busy process${args.load === 1 ? '' : 'es'}, ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)}`,
);
const runs = [];
const began = Date.now();
for (let i = 1; i <= args.runs; i++) {
  const logPath = join(scratch, `run-${i}.log`);
  const failuresPath = join(scratch, `run-${i}.failures.jsonl`);
  writeFileSync(logPath, '');
  const loadBefore = loadavg()[0];
  const start = performance.now();
  const npmArgs = ['test', ...(args.testArgs.length > 0 ? ['--', ...args.testArgs] : [])];
  const exitCode = await run('npm', npmArgs, checkout, logPath, { CHATTERBOX_TEST_FAILURES: failuresPath });
  const durationMs = Math.round(performance.now() - start);
  const failures = readFailures(failuresPath, checkout);
  const passed = exitCode === 0;
  let keptLog = null;
  if (!passed) {
    keptLog = join(logsDir, `run-${i}.log`);
    writeFileSync(keptLog, readFileSync(logPath));
  }
  runs.push({ run: i, passed, exitCode, durationMs, loadAverageBefore: Number(loadBefore.toFixed(2)), loadAverageAfter: Number(loadavg()[0].toFixed(2)), failures, log: keptLog === null ? null : relative(ROOT, keptLog) });
  const seconds = (durationMs / 1000).toFixed(1);
  if (passed) console.log(`run ${i}/${args.runs}: passed in ${seconds} s`);
  else {
    console.log(`run ${i}/${args.runs}: FAILED (exit ${exitCode}) in ${seconds} s, ${failures.length} failed test${failures.length === 1 ? '' : 's'}; log ${relative(ROOT, keptLog)}`);
    for (const f of failures) console.log(`  ${f.file} › ${f.name}: ${f.error}`);
    if (failures.length === 0) console.log('  (no test reported failing: the build or the runner itself failed; see the log)');
  }
}

stopLoad();
const failedRuns = runs.filter((r) => !r.passed);
const byTest = new Map();
for (const r of failedRuns) {
  for (const f of r.failures) {
    const key = `${f.file} › ${f.name}`;
    byTest.set(key, [...(byTest.get(key) ?? []), r.run]);
  }
}
const summary = {
  startedAt: new Date(began).toISOString(),
  commit,
  fresh: args.fresh,
  load: args.load,
  testArgs: args.testArgs,
  cores: cpus().length,
  node: process.version,
  runs: args.runs,
  passed: runs.length - failedRuns.length,
  failed: failedRuns.length,
  meanRunMs: Math.round(runs.reduce((sum, r) => sum + r.durationMs, 0) / runs.length),
  maxRunMs: Math.max(...runs.map((r) => r.durationMs)),
  failingTests: [...byTest].map(([test, inRuns]) => ({ test, runs: inRuns })),
  perRun: runs,
};
writeFileSync(args.out, `${JSON.stringify(summary, null, 2)}\n`);
console.log(
  `soak: ${summary.passed}/${summary.runs} runs passed; mean ${(summary.meanRunMs / 1000).toFixed(1)} s, slowest ${(summary.maxRunMs / 1000).toFixed(1)} s per run; written to ${relative(process.cwd(), args.out)}`,
);
for (const [test, inRuns] of byTest) console.log(`  failed in ${inRuns.length} run${inRuns.length === 1 ? '' : 's'} (${inRuns.join(', ')}): ${test}`);
process.exitCode = failedRuns.length > 0 ? 1 : 0;
