/**
 * The package as users get it: `npm pack`, installed into an empty project, the example counter type-checked
 * against the installed declarations (its imports resolve to 'chatterbox/…' through package.json `exports`, as a
 * user's would) and run from there, under the simulator and as a Maelstrom node.
 *
 * Offline and fast, honestly: there is no network here, and the npm cache holds the dependencies' tarballs (from
 * the checkout's `npm ci`) but not the registry's package documents a fresh `npm install` resolves versions with.
 * So the empty project gets a lock file: its dependency entries are the checkout's own (the versions this
 * package is tested with, taken by integrity from the cache), plus the tarball. `npm ci --offline` then installs
 * exactly that. `--ignore-scripts` leaves better-sqlite3's native addon unbuilt (a build from source takes
 * minutes): better-sqlite3 loads it only when a database is opened, which the example never does, so anything
 * that needed it would fail here. msgpackr-extract is msgpackr's optional native accelerator, which the
 * registry reachable here lacks: the project overrides it with the checkout's stub, as the checkout itself does
 * (npm applies `overrides` only in the root project, so chatterbox's own neither helps nor harms its users).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ChildSet } from '../../src/supervisor/supervisor.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Any one step (npm pack, npm ci, tsc, one run of the example) still running after this has hung: it is stopped
 * and the test fails. A hang limit, not a time budget: far above what a loaded 2-core machine takes (npm ci and
 * tsc, the slowest, take tens of seconds), so the test never fails by timing alone.
 */
const STEP_HUNG_AFTER_MS = 5 * 60_000;
/** A hung step's grace between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** The steps the test runs one after another; its own limit is theirs together, so only a step's can fire. */
const STEPS = 7;

/** Every process the test starts; stopped when hung, and any still running when this file's process exits is killed. */
const children = new ChildSet();

interface Ran {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(command: string, args: readonly string[], cwd: string, input?: string): Promise<Ran> {
  const child = children.start({ command, args, cwd, env: { ...process.env, npm_config_update_notifier: 'false' } });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.onLine('stdout', (line) => stdout.push(line)).onLine('stderr', (line) => stderr.push(line));
  child.write(input ?? '');
  child.endInput();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), STEP_HUNG_AFTER_MS);
  });
  const outcome = await Promise.race([child.exited, hung]);
  clearTimeout(timer);
  const status = outcome === 'hung' ? await child.stop('SIGTERM', STOP_GRACE_MS) : outcome;
  const code = outcome === 'hung' ? `hung (still running after ${STEP_HUNG_AFTER_MS} ms, stopped)` : (status.code ?? status.signal ?? `not started: ${status.spawnError}`);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

function ok(ran: Ran, what: string): Ran {
  assert.equal(ran.code, 0, `${what} failed (${ran.code}):\n${ran.stdout.slice(-3000)}\n${ran.stderr.slice(-3000)}`);
  return ran;
}

interface LockEntry {
  readonly dev?: boolean;
  readonly [key: string]: unknown;
}

/** The empty project's lock file: the tarball, and the checkout's entries for what the package depends on. */
function lockFor(tarball: string, tarballFile: string): unknown {
  const checkout = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const own = checkout.packages[''] as LockEntry;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarballFile)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { chatterbox: `file:${tarball}` } },
    'node_modules/chatterbox': { version: own['version'], resolved: `file:${tarball}`, integrity, dependencies: own['dependencies'], bin: own['bin'], engines: own['engines'] },
    'node_modules/msgpackr-extract': { resolved: 'stub/msgpackr-extract', link: true },
    'stub/msgpackr-extract': { version: '0.0.0-none', optional: true },
  };
  for (const [path, entry] of Object.entries(checkout.packages)) {
    if (path === '' || entry.dev === true || path.includes('msgpackr-extract')) continue;
    packages[path] = entry;
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022'],
    types: ['node'],
    // The consumer brings its own @types/node; this one is the checkout's (nothing to download).
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    strict: true,
    noUncheckedIndexedAccess: true,
    // The package's declarations are checked too: they are what users compile against.
    skipLibCheck: false,
    outDir: 'out',
    rootDir: '.',
  },
};

const dirs: string[] = [];
after(() => {
  children.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  test('installs offline into an empty project, where the example type-checks against its exports and runs', { timeout: STEPS * (STEP_HUNG_AFTER_MS + STOP_GRACE_MS) }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatterbox-package-'));
    dirs.push(dir);

    // Pack what `npm publish` would (scripts skipped: `npm test` has just built dist/).
    const packed = ok(await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT), 'npm pack');
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    assert.ok(info !== undefined);
    const files = info.files.map((f) => f.path);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>>; bin: Record<string, string> };
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      for (const file of typeof target === 'string' ? [target] : Object.values(target)) assert.ok(files.includes(file.replace(/^\.\//, '')), `${subpath}: ${file} is not in the package`);
    }
    for (const bin of Object.values(pkg.bin)) assert.ok(files.includes(bin), `the bin ${bin} is not in the package`);
    assert.ok(files.some((f) => f.startsWith('dist/src/cli/bundle/')), 'the subcommand bundles the bin runs are in the package');
    const strays = files.filter((f) => /^(dist\/(test|bench|examples)\/|test\/|bench\/|tools\/|src\/)|\.map$|tsbuildinfo/.test(f));
    assert.deepEqual(strays, [], 'tests, benches, tools, sources and source maps stay out of the package');

    // An empty project that depends on the tarball only.
    const project = join(dir, 'consumer');
    mkdirSync(join(project, 'stub'), { recursive: true });
    cpSync(join(ROOT, 'tools', 'msgpackr-extract-none'), join(project, 'stub', 'msgpackr-extract'), { recursive: true });
    const tarball = `../${info.filename}`;
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { chatterbox: `file:${tarball}` }, overrides: { 'msgpackr-extract': 'file:./stub/msgpackr-extract' } }),
    );
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lockFor(tarball, join(dir, info.filename))));
    ok(await run(NPM, ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project), 'npm ci');

    // The example, copied in as a user would write it: it imports only 'chatterbox/…'.
    const example = join(project, 'counter');
    mkdirSync(example);
    const sources = readdirSync(join(ROOT, 'examples', 'counter')).filter((f) => f.endsWith('.ts'));
    assert.ok(sources.length >= 4, sources.join(', '));
    for (const source of sources) {
      const text = readFileSync(join(ROOT, 'examples', 'counter', source), 'utf8');
      assert.doesNotMatch(text, /from '\.\.\//, `${source} imports outside the example; it must use the package's exports`);
      writeFileSync(join(example, source), text);
    }
    // The exports are the boundary: a name a barrel does not export, or a path past them, does not compile. One
    // tsc run checks both (a second would double the test's slowest step): every error must be one of these two.
    mkdirSync(join(project, 'outside'));
    writeFileSync(
      join(project, 'outside', 'outside.ts'),
      "import { NodeKernel } from 'chatterbox/protocol';\nimport { assert } from 'chatterbox/dist/src/core/assert.js';\nexport { NodeKernel, assert };\n",
    );
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, include: ['counter/*.ts', 'outside/*.ts'] }));
    const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
    const errors = checked.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
    assert.equal(errors.length, 2, `type-checking the example against the package (${checked.code}):\n${checked.stdout}`);
    assert.match(errors[0] ?? '', /^outside\/outside\.ts\(1,\d+\): error TS2305: .*NodeKernel/);
    assert.match(errors[1] ?? '', /^outside\/outside\.ts\(2,\d+\): error TS2307: .*chatterbox\/dist\/src\/core\/assert\.js/);
    // tsc writes JavaScript despite errors elsewhere (noEmitOnError is off), so the example's output is complete.

    // Under the simulator: Maelstrom's g-counter checker over drawn faults.
    const sim = ok(await run(process.execPath, [join('out', 'counter', 'sim.js'), '20', '1'], project), 'the simulated sweep');
    assert.match(sim.stdout, /^20 runs, 0 invalid$/m);

    // As a Maelstrom node: one node, an add, a read.
    const lines = [
      { src: 'c1', dest: 'n1', body: { type: 'init', msg_id: 1, node_id: 'n1', node_ids: ['n1'] } },
      { src: 'c1', dest: 'n1', body: { type: 'add', msg_id: 2, delta: 5 } },
      { src: 'c1', dest: 'n1', body: { type: 'read', msg_id: 3 } },
    ];
    const node = ok(await run(process.execPath, [join('out', 'counter', 'maelstrom.js')], project, lines.map((l) => `${JSON.stringify(l)}\n`).join('')), 'the Maelstrom node');
    const replies = node.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { body: Record<string, unknown> }).body);
    assert.deepEqual(
      replies.map((b) => [b['type'], b['in_reply_to'], b['value']]),
      [
        ['init_ok', 1, undefined],
        ['add_ok', 2, undefined],
        ['read_ok', 3, 5],
      ],
    );

    // The installed command runs too.
    const help = ok(await run(join(project, 'node_modules', '.bin', 'chatterbox'), ['--help'], project), 'chatterbox --help');
    assert.match(help.stdout, /harness/);

    // A report inlines the chart library from the installed package: the page fetches nothing.
    ok(await run(join(project, 'node_modules', '.bin', 'chatterbox'), ['harness', '-w', 'echo', '--node-count', '1', '--time-limit', '0.3', '--rate', '10', '--report', 'report'], project), 'chatterbox harness --report');
    const page = readFileSync(join(project, 'report', 'index.html'), 'utf8');
    assert.match(page, /uPlot/);
    assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=/, 'every script and style is inline');
  });
});
