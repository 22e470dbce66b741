import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runSimCommand, simArgsFromOptions } from '../../src/cli/sim-command.js';
import { MAIN } from './helpers/processes.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'chatterbox-sim-'));

function capture(opts: Record<string, string>): { code: number; lines: string[] } {
  const lines: string[] = [];
  const code = runSimCommand(simArgsFromOptions(opts), (l) => lines.push(l));
  return { code, lines };
}

test('one seed prints the schedule, every line and the verdict; the same seed prints the same', () => {
  const a = capture({ seed: '131', protocol: 'stream' });
  assert.equal(a.code, 0);
  assert.match(a.lines[0] ?? '', /^seed 131, protocol stream: \d nodes/);
  assert.ok(a.lines.some((l) => /^ {2}partition \d+–\d+ ms/.test(l)));
  assert.ok(a.lines.some((l) => /verdict: agreed/.test(l)));
  assert.deepEqual(capture({ seed: '131', protocol: 'stream' }).lines, a.lines);
});

test('a sweep reports per protocol', () => {
  const { code, lines } = capture({ seed: '1', runs: '40' });
  assert.equal(code, 0);
  assert.match(lines.at(-2) ?? '', /^stream: 40 scenarios from seed 1: \d+ agreed exactly/);
  assert.match(lines.at(-1) ?? '', /^lockstep: 40 scenarios from seed 1: /);
});

test('an explicit fault schedule replaces the drawn one', () => {
  const file = join(dir, 'faults.json');
  writeFileSync(file, JSON.stringify([{ kind: 'crash', atMs: 300, node: 'n2' }]));
  const { code, lines } = capture({ seed: '4', protocol: 'lockstep', nodes: '3', sendFor: '1', faults: file });
  assert.equal(code, 0);
  assert.ok(lines.includes('  crash n2 at 300 ms, for good'), lines.join('\n'));
  assert.equal(lines.filter((l) => /^ {2}(partition|crash) /.test(l)).length, 1);
});

test('bad --faults files are usage errors naming the file', async () => {
  const cases: Array<[string, RegExp]> = [
    ['[{"kind":"crash","atMs":1,"node":"n7"}]', /names n7, but the cluster has 3 nodes/],
    ['[{"kind":"quake","atMs":1}]', /at 0\.kind/],
    ['{not json', /not JSON/],
  ];
  for (const [content, message] of cases) {
    const file = join(dir, `bad-${cases.findIndex((c) => c[0] === content)}.json`);
    writeFileSync(file, content);
    const failure = await run(process.execPath, [MAIN, 'sim', '--nodes', '3', '--faults', file]).then(
      () => assert.fail('expected exit 2'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(failure.code, 2);
    assert.match(failure.stderr, message);
    assert.ok(failure.stderr.includes(file));
    assert.equal(failure.stderr.trim().split('\n').length, 1);
  }
});
