/**
 * The rooms of ARCHITECTURE.md: the folders' layers (the last test), and the harness's: the harness is a tool at
 * the top (nothing below the CLI imports it), its pure model and its simulated backend reach nothing
 * process-bound (so the simulated backend stays a function of its seed), and the process supervisor is used from
 * above only. The harness's rooms are read from the compiled modules' imports, which are what runs (type-only
 * imports are gone there, as they are at run time).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

/**
 * What a compiled module imports: relative specifiers resolved to paths under src/ ('harness/runner.js'), packages
 * and builtins prefixed with '=' ('=zod/mini', '=node:fs'), so that the two cannot be confused.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined) continue;
    found.push(spec.startsWith('.') ? relative(SRC, resolve(dirname(join(SRC, file)), spec)).split(sep).join('/') : `=${spec}`);
  }
  return found;
}

/** Every module reachable from `roots` through relative imports, with what each imports. */
function closure(roots: readonly string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const todo = [...roots];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (seen.has(file)) continue;
    const imports = importsOf(file);
    seen.set(file, imports);
    for (const spec of imports) if (!spec.startsWith('=')) todo.push(spec);
  }
  return seen;
}

function modulesUnder(folder: string): string[] {
  return readdirSync(join(SRC, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => `${folder}/${f.split(sep).join('/')}`);
}

const PROCESS_BOUND = /^(=node:|=better-sqlite3|=pino|supervisor\/|runtime\/|cli\/|harness\/runner\.js$)/;

test("the harness's model and simulated backend reach nothing process-bound", () => {
  const pure = ['index', 'types', 'client', 'lin-kv-client', 'history', 'checkers', 'linearizability', 'kafka', 'txn', 'topology', 'format', 'simulated', 'process-nemesis'].map((name) => `harness/${name}.js`);
  const reached = closure(pure);
  assert.ok(reached.has('sim/simulation.js') && reached.has('maelstrom/workloads.js'), 'the walk follows imports');
  for (const [file, imports] of reached) {
    for (const spec of imports) assert.doesNotMatch(spec, PROCESS_BOUND, `${file} imports ${spec}`);
  }
  // The check can fail: the process backend is process-bound.
  assert.ok([...closure(['harness/runner.js']).values()].some((imports) => imports.some((spec) => PROCESS_BOUND.test(spec))));
});

test('nothing below the CLI imports the harness; only the CLI and the harness runner import the supervisor', () => {
  const all = readdirSync(SRC, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => modulesUnder(d.name));
  for (const file of all) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith('harness/') && !file.startsWith('harness/')) assert.match(file, /^cli\//, `${file} imports the harness (${spec})`);
      if (spec.startsWith('supervisor/') && !file.startsWith('supervisor/')) assert.match(file, /^(cli\/|harness\/runner\.js$)/, `${file} imports the supervisor (${spec})`);
    }
  }
});

/**
 * The layers of ARCHITECTURE.md, lowest first: a folder may import only folders of a lower rank, so nothing
 * imports upward and no two folders of one rank (the drivers, say) import each other. Read from the sources, so
 * type-only imports count too.
 */
const LAYER_RANKS: Readonly<Record<string, number>> = {
  core: 0,
  supervisor: 0,
  protocol: 1,
  crdt: 1,
  transport: 1,
  kernel: 2,
  consensus: 2,
  agreement: 2,
  replication: 2,
  platform: 2,
  membership: 2,
  broadcast: 3,
  ranges: 3,
  sim: 4,
  causal: 4,
  runtime: 5,
  maelstrom: 5,
  harness: 6,
  cli: 7,
};

const SOURCES = fileURLToPath(new URL('../../src/', import.meta.url));

test('no folder imports upward or sideways: each imports only folders of a lower layer', () => {
  const folders = readdirSync(SOURCES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  assert.deepEqual(folders.filter((f) => LAYER_RANKS[f] === undefined), [], 'every folder has a layer');
  const wrong: string[] = [];
  for (const folder of folders) {
    const files = readdirSync(join(SOURCES, folder), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    for (const file of files) {
      const text = readFileSync(join(SOURCES, folder, file), 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (spec === undefined || !spec.startsWith('.')) continue;
        const target = relative(SOURCES, resolve(dirname(join(SOURCES, folder, file)), spec)).split(sep)[0]!;
        if (target !== folder && !(LAYER_RANKS[target]! < LAYER_RANKS[folder]!)) wrong.push(`${folder}/${file} imports ${target}/ (${spec})`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});
