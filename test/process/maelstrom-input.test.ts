/**
 * The deepest input through the built `chatterbox maelstrom` binary: a 100,000-deep nested `echo` once got error
 * 13 and a stack trace on stderr (the reply's JSON.stringify ran out of stack). Now the line parser refuses it with
 * error 12, and the node goes on answering. In-process cases are in test/maelstrom-input.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_JSON_DEPTH } from '../../src/maelstrom/json-bounds.js';
import { startChatterbox } from './helpers/processes.js';

interface Reply {
  readonly body: { readonly type: string; readonly code?: number; readonly text?: string; readonly in_reply_to?: number; readonly echo?: unknown };
}

describe('chatterbox maelstrom: input bounds (process)', () => {
  it('answers a 100,000-deep nested echo with error 12, no stack on stderr, and keeps answering', async () => {
    const node = startChatterbox(['maelstrom', '--log-level', 'warn'], {}, 'pipe');
    const replyTo = async (msgId: number): Promise<Reply['body']> => {
      const line = await node.stdoutMatching((l) => (JSON.parse(l) as Reply).body.in_reply_to === msgId);
      return (JSON.parse(line) as Reply).body;
    };
    node.child.write('{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}\n');
    assert.equal((await replyTo(1)).type, 'init_ok');
    const depth = 100_000;
    node.child.write(`{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":2,"echo":${'['.repeat(depth)}${']'.repeat(depth)}}}\n`);
    const refused = await replyTo(2);
    assert.deepEqual([refused.type, refused.code], ['error', 12]);
    assert.match(refused.text ?? '', new RegExp(`deeper than ${MAX_JSON_DEPTH}`));
    node.child.write('{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":3,"echo":"still here"}}\n');
    const after = await replyTo(3);
    assert.deepEqual([after.type, after.echo], ['echo_ok', 'still here']);
    node.child.endInput();
    assert.equal(await node.exited, 0);
    assert.equal(node.stderrLines.filter((l) => /Maximum call stack|RangeError|"code":13/.test(l)).length, 0, node.stderrLines.join('\n'));
  });
});
