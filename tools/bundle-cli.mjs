/**
 * The last step of `npm run build`: one bundle per subcommand, dist/src/cli/bundle/<name>.js, each a single file
 * holding the compiled program (dist/src/cli/program.js) with that subcommand and everything it imports,
 * node_modules included. main.js runs the bundle named by the command line.
 *
 * Why: Node 20 resolves, reads, compiles and links every ES module file on its own, and `chatterbox maelstrom`
 * loaded about 170 of them (zod alone is 95) before it could answer anything: 3× the start-up of a bare `node`
 * script. Maelstrom gives each node 10 s to answer `init`, shared with up to 25 others on a small machine, and
 * `chatterbox node` counts its deadlines from process start. `npm run bench:startup` has the figures.
 *
 * Why one file per subcommand rather than one bundle split into shared chunks: a subcommand then loads one file
 * (esbuild's chunks came to 16 small files for `maelstrom`, measurably slower), and each bundle keeps only the
 * parts of a library its subcommand uses. A subcommand is found by its module's name, `<name>-command.js`, among
 * the modules program.js imports lazily; the others stay outside its bundle, where that subcommand never reaches.
 *
 * Everything else in dist/ (tests, benches, the modules the tests import) stays as tsc wrote it.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const cli = join(dist, 'src', 'cli');
const program = join(cli, 'program.js');
const outdir = join(cli, 'bundle');
const SUBCOMMAND_MODULE = /^\.\/([a-z]+)-command\.js$/;

/** The subcommand modules program.js imports lazily, found by resolving its imports without bundling them. */
async function subcommandModules() {
  const found = [];
  await build({
    entryPoints: [program],
    bundle: true,
    format: 'esm',
    write: false,
    logLevel: 'warning',
    plugins: [
      {
        name: 'list-subcommands',
        setup(builder) {
          builder.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            if (args.kind === 'dynamic-import' && args.importer === program && SUBCOMMAND_MODULE.test(args.path)) found.push(args.path);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  if (found.length === 0) throw new Error(`no subcommand modules (./<name>-command.js) imported by ${program}`);
  return found;
}

/**
 * A module keeps its own `import.meta.url` (where tsc wrote it), so the paths it builds from it (package.json,
 * main.js for child processes) are the same bundled or not.
 */
const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(builder) {
    builder.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(dist + sep)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const own = relative(outdir, args.path).split(sep).join('/');
      return {
        contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};

/** The other subcommands stay outside this bundle, imported from the compiled modules should it ever ask. */
function onlySubcommand(module) {
  return {
    name: 'only-subcommand',
    setup(builder) {
      builder.onResolve({ filter: SUBCOMMAND_MODULE }, (args) => {
        if (args.importer !== program || args.kind !== 'dynamic-import' || args.path === module) return undefined;
        return { path: `../${args.path.slice(2)}`, external: true };
      });
    },
  };
}

rmSync(outdir, { recursive: true, force: true }); // bundles of subcommands that no longer exist must not linger

for (const module of await subcommandModules()) {
  const name = SUBCOMMAND_MODULE.exec(module)[1];
  await build({
    entryPoints: [program],
    outfile: join(outdir, `${name}.js`),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // A native addon, found in node_modules at run time as before.
    external: ['better-sqlite3'],
    // The CommonJS packages (commander, pino, msgpackr) require Node's built-in modules.
    banner: {
      js: "import { createRequire as chatterboxCreateRequire } from 'node:module';\nconst require = chatterboxCreateRequire(import.meta.url);",
    },
    minify: true,
    sourcemap: true,
    plugins: [onlySubcommand(module), ownImportMetaUrl],
    logLevel: 'warning',
  });
}
