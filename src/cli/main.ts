#!/usr/bin/env node
/**
 * The `chatterbox` executable.
 *
 * `npm run build` bundles the program once per subcommand (tools/bundle-cli.mjs): `chatterbox maelstrom …` loads
 * bundle/maelstrom.js, one file holding only what that subcommand needs, instead of about 170 ES modules, which
 * Node 20 resolves, reads and compiles one by one (`npm run bench:startup` has the figures). Anything else
 * (`--help`, no command, an unknown one), and a build without bundles, runs the program from the compiled modules.
 */
import { existsSync } from 'node:fs';

const name = process.argv[2];
// Only plain names: argv[2] is user input and must not reach other files.
const bundle = name !== undefined && /^[a-z]+$/.test(name) ? new URL(`./bundle/${name}.js`, import.meta.url) : undefined;
await import(bundle !== undefined && existsSync(bundle) ? bundle.href : './program.js');
