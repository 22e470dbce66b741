#!/usr/bin/env node
/**
 * `npm test` after the build: runs every compiled test file in two phases and exits non-zero if any test failed.
 *
 * 1. In-process tests (every test/**\/*.test.ts outside test/process/): two files at a time, one per core.
 * 2. Process tests (test/process/): tests that start real `chatterbox` processes or other child processes.
 *    One file at a time, after phase 1, and those files run their own tests one at a time: real processes then
 *    never compete with each other or with the CPU-heavy property tests for the machine's two cores.
 *
 * Phase 2 runs even when phase 1 failed, so that one run shows every failure. Before it, `tools/install-browser.sh`
 * makes sure Debian's chromium is there for the browser tests (a no-op when it is; a failure fails the run).
 *
 * The files to run are found from the TypeScript sources, not from dist/: tsc never deletes an output, so a
 * test moved or deleted since the last build would otherwise still run from its stale .js.
 *
 * Arguments are substrings of the source paths to keep (`npm test -- process/cli ranges`); none runs all.
 * With CHATTERBOX_TEST_FAILURES=<file>, failed tests are also written there as JSON lines (tools/soak.mjs).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TEST_SOURCES = join(ROOT, 'test');
const PROCESS_DIR = 'process';

/** In-process test files run at once: one per core of the 2-core machines this suite must pass on. */
const IN_PROCESS_FILES_AT_ONCE = 2;
/** Process test files run at once: one, so that no two files' processes race each other for the cores. */
const PROCESS_FILES_AT_ONCE = 1;
/**
 * Any one test (or suite) still running after this has hung: it fails, and the run goes on, rather than waiting
 * for CI's limit. Far above the slowest file's whole run on a loaded 2-core machine (about 30 s): not a speed target.
 */
const HUNG_TEST_MS = 5 * 60_000;

/** Source paths (relative to test/, with '/') of every *.test.ts under `dir`. */
function testSources(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testSources(path));
    else if (entry.name.endsWith('.test.ts')) found.push(relative(TEST_SOURCES, path).split(sep).join('/'));
  }
  return found.sort();
}

function compiled(source) {
  return join(ROOT, 'dist', 'test', source.replace(/\.ts$/, '.js'));
}

/**
 * With CHATTERBOX_PICTURE=FILE (the picture hint a failing seed prints), every test process preloads
 * test/support/picture.js, which draws the replayed seed's simulation into FILE (relative to where npm was run).
 */
function pictureEnv() {
  const picture = process.env['CHATTERBOX_PICTURE'];
  if (picture === undefined || picture === '') return process.env;
  const preload = pathToFileURL(join(ROOT, 'dist', 'test', 'support', 'picture.js')).href;
  return {
    ...process.env,
    CHATTERBOX_PICTURE: resolve(process.env['INIT_CWD'] ?? process.cwd(), picture),
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import ${preload}`.trim(),
  };
}

function runPhase(files, concurrency) {
  const failures = process.env['CHATTERBOX_TEST_FAILURES'];
  const reporters =
    failures === undefined || failures === ''
      ? []
      : [
          '--test-reporter=spec',
          '--test-reporter-destination=stdout',
          `--test-reporter=${join(ROOT, 'tools', 'failures-reporter.mjs')}`,
          `--test-reporter-destination=${failures}`,
        ];
  const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${HUNG_TEST_MS}`, ...reporters, ...files.map(compiled)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: pictureEnv(),
  });
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.error(`run-tests: could not start node --test: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

const filters = process.argv.slice(2);
const sources = testSources(TEST_SOURCES).filter((s) => filters.length === 0 || filters.some((f) => s.includes(f)));
if (sources.length === 0) {
  console.error(`run-tests: no test file matches ${filters.join(', ')}`);
  process.exit(2);
}
const isProcessTest = (source) => source.startsWith(`${PROCESS_DIR}/`);
const phases = [
  { name: 'in-process tests', files: sources.filter((s) => !isProcessTest(s)), concurrency: IN_PROCESS_FILES_AT_ONCE },
  { name: `process tests (test/${PROCESS_DIR}, one file at a time)`, files: sources.filter(isProcessTest), concurrency: PROCESS_FILES_AT_ONCE, needsBrowser: true },
];

/** Runs tools/install-browser.sh (idempotent): the process tests include the browser tests, which need chromium. */
function installBrowser() {
  const child = spawn('bash', [join(ROOT, 'tools', 'install-browser.sh')], { cwd: ROOT, stdio: 'inherit' });
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.error(`run-tests: could not run tools/install-browser.sh: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const outcomes = [];
for (const phase of phases) {
  if (phase.files.length === 0) continue;
  if (phase.needsBrowser === true && (await installBrowser()) !== 0) {
    outcomes.push('browser: tools/install-browser.sh FAILED; the browser tests will fail');
    process.exitCode = 1;
  }
  const began = performance.now();
  const code = await runPhase(phase.files, phase.concurrency);
  outcomes.push(`${phase.name}: ${phase.files.length} file${phase.files.length === 1 ? '' : 's'}, ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  if (code !== 0) process.exitCode = 1;
}
console.log(outcomes.map((line) => `run-tests: ${line}`).join('\n'));
