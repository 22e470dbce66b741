/**
 * The harness's rooms, as ARCHITECTURE.md states them: the harness is a tool at the top (nothing below the CLI
 * imports it), its pure model and its simulated backend reach nothing process-bound (so the simulated backend
 * stays a function of its seed), and the process supervisor is used from above only. Read from the compiled
 * modules' imports, which are what runs (type-only imports are gone there, as they are at run time).
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
  const pure = ['index', 'types', 'client', 'history', 'checkers', 'topology', 'format', 'simulated'].map((name) => `harness/${name}.js`);
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
