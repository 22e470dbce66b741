/**
 * Input as the Maelstrom workloads define it (doc/workloads.md and the generators behind it): broadcast messages,
 * g-set elements and counter deltas are integers, `topology` maps node ids to lists of node ids, `echo` is any
 * JSON value. Anything else gets error 12 with a text saying why, and nothing acknowledged comes back changed:
 * numbers a double cannot hold exactly, and nesting deep enough to exhaust the stack, are refused at the line.
 * In-process (the node's logic fed one raw line at a time); test/process/maelstrom-input.test.ts sends the deepest
 * line through the built binary.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_JSON_DEPTH, jsonLineProblem } from '../src/maelstrom/json-bounds.js';
import { MaelstromNode } from '../src/maelstrom/node.js';
import { WORKLOADS } from '../src/maelstrom/workloads.js';
import { silentLogger } from '../src/platform/log.js';
import * as codec from '../src/transport/codec.js';

interface Reply {
  readonly dest: string;
  readonly body: Record<string, unknown> & { readonly type: string; readonly in_reply_to?: number };
}

/** A node with the shipped workloads; `send` takes raw text, so literals JSON.stringify cannot write go in as is. */
function shippedNode(): { node: MaelstromNode; send: (line: string) => void; replyTo: (msgId: number) => Reply['body'] } {
  const out: Reply[] = [];
  const node = new MaelstromNode({ preset: 'latency' }, { workloads: WORKLOADS, codec }, (m) => out.push(JSON.parse(JSON.stringify(m)) as Reply), silentLogger());
  const send = (line: string): void => node.handleLine(line);
  send('{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2"]}}');
  const replyTo = (msgId: number): Reply['body'] => {
    const found = out.filter((m) => m.body.in_reply_to === msgId);
    assert.equal(found.length, 1, `one reply to ${msgId}: ${JSON.stringify(out)}`);
    return found[0]!.body;
  };
  return { node, send, replyTo };
}

const request = (msgId: number, body: string): string => `{"src":"c1","dest":"n1","body":{"msg_id":${msgId},${body}}}`;

function assertMalformed(body: Reply['body'], mentions: string): void {
  assert.equal(body.type, 'error', JSON.stringify(body));
  assert.equal(body['code'], 12, JSON.stringify(body));
  assert.match(String(body['text']), new RegExp(mentions), JSON.stringify(body));
}

/** Values outside an integer field's definition, as raw JSON text, and what the refusal must mention. */
const NOT_INTEGERS: ReadonlyArray<readonly [string, string]> = [
  ['"str"', 'integer'],
  ['1.5', 'integer'],
  ['1e400', 'too large'],
  ['99999999999999999999999', '2\\^53'],
  ['9007199254740993', '2\\^53'],
  ['1e22', 'integer'],
  ['1e-400', 'too small'],
  ['null', 'integer'],
  ['"NaN"', 'integer'],
  ['[1]', 'integer'],
  ['{"n":1}', 'integer'],
  ['true', 'integer'],
];

describe('maelstrom input: what each workload accepts', () => {
  it('broadcast: only integers are acknowledged, and a read gives back exactly what was', () => {
    const { node, send, replyTo } = shippedNode();
    let msgId = 10;
    for (const [value, mentions] of NOT_INTEGERS) {
      send(request(++msgId, `"type":"broadcast","message":${value}`));
      assertMalformed(replyTo(msgId), mentions);
    }
    send(request(++msgId, '"type":"broadcast"'));
    assertMalformed(replyTo(msgId), 'nothing');
    for (const ok of ['9007199254740991', '-9007199254740991', '0', '42']) {
      send(request(++msgId, `"type":"broadcast","message":${ok}`));
      assert.equal(replyTo(msgId).type, 'broadcast_ok');
    }
    send(request(++msgId, '"type":"read"'));
    const read = replyTo(msgId);
    assert.deepEqual([...(read['messages'] as number[])].sort((a, b) => a - b), [-9007199254740991, 0, 42, 9007199254740991]);
    node.stop();
  });

  it('g-set: only integer elements', () => {
    const { node, send, replyTo } = shippedNode();
    let msgId = 10;
    for (const [value, mentions] of NOT_INTEGERS) {
      send(request(++msgId, `"type":"add","element":${value}`));
      assertMalformed(replyTo(msgId), mentions);
    }
    send(request(++msgId, '"type":"add","element":7'));
    assert.equal(replyTo(msgId).type, 'add_ok');
    send(request(++msgId, '"type":"read"'));
    assert.deepEqual(replyTo(msgId)['value'], [7]);
    node.stop();
  });

  it('g-counter and pn-counter: only integer deltas', () => {
    const { node, send, replyTo } = shippedNode();
    let msgId = 10;
    for (const [value, mentions] of NOT_INTEGERS) {
      send(request(++msgId, `"type":"add","delta":${value}`));
      assertMalformed(replyTo(msgId), mentions);
    }
    send(request(++msgId, '"type":"add","delta":-3'));
    assert.equal(replyTo(msgId).type, 'add_ok');
    send(request(++msgId, '"type":"read"'));
    assert.equal(replyTo(msgId)['value'], -3);
    node.stop();
  });

  it('topology: a map of cluster node ids to lists of them', () => {
    const { node, send, replyTo } = shippedNode();
    let msgId = 10;
    const bad: ReadonlyArray<readonly [string, string]> = [
      ['[]', 'map of node ids'],
      ['"n1"', 'map of node ids'],
      ['{"n1":"n2"}', 'not a list'],
      ['{"n1":[2]}', 'not a node'],
      ['{"n1":["n9"]}', 'not a node'],
      ['{"n9":["n1"]}', 'not a node'],
    ];
    for (const [value, mentions] of bad) {
      send(request(++msgId, `"type":"topology","topology":${value}`));
      assertMalformed(replyTo(msgId), mentions);
    }
    send(request(++msgId, '"type":"topology","topology":{"n1":["n2"],"n2":["n1"]}'));
    assert.equal(replyTo(msgId).type, 'topology_ok');
    node.stop();
  });

  it('echo: any JSON value comes back as sent, but no number it would change and no nesting past the bound', () => {
    const { node, send, replyTo } = shippedNode();
    let msgId = 10;
    for (const value of ['"Please echo 35"', '1.5', '[1,{"a":null}]', '-9007199254740991', '"99999999999999999999999"']) {
      send(request(++msgId, `"type":"echo","echo":${value}`));
      assert.deepEqual(replyTo(msgId), { type: 'echo_ok', echo: JSON.parse(value), msg_id: replyTo(msgId)['msg_id'], in_reply_to: msgId });
    }
    for (const [value, mentions] of [['99999999999999999999999', '2\\^53'], ['1e400', 'too large'], ['-1e-400', 'too small']] as const) {
      send(request(++msgId, `"type":"echo","echo":${value}`));
      assertMalformed(replyTo(msgId), mentions);
    }
    // The envelope and body are two levels: MAX_JSON_DEPTH - 2 more is the deepest echo there is room for.
    const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    send(request(++msgId, `"type":"echo","echo":${nested(MAX_JSON_DEPTH - 2)}`));
    assert.equal(replyTo(msgId).type, 'echo_ok');
    send(request(++msgId, `"type":"echo","echo":${nested(MAX_JSON_DEPTH - 1)}`));
    assertMalformed(replyTo(msgId), `deeper than ${MAX_JSON_DEPTH}`);
    send(request(++msgId, `"type":"echo","echo":${nested(100_000)}`));
    assertMalformed(replyTo(msgId), `deeper than ${MAX_JSON_DEPTH}`);
    assert.equal(node.stats.errorsSent, 5);
    node.stop();
  });

  it('a line that is not JSON (a NaN in a body) is answered 12 when it names one sender and one msg_id', () => {
    const { node, send, replyTo } = shippedNode();
    send(request(11, '"type":"broadcast","message":NaN'));
    assertMalformed(replyTo(11), 'not JSON');
    const before = node.stats.errorsSent;
    send('{"src":"c1","dest":"n1","body":{"msg_id":12,"echo":{"msg_id":13},"x":NaN}}');
    assert.equal(node.stats.errorsSent, before, 'two msg_ids: nobody to answer for sure, so it is only logged');
    node.stop();
  });
});

describe('jsonLineProblem', () => {
  it('skips strings, escaped quotes included, and judges only numbers and nesting outside them', () => {
    assert.equal(jsonLineProblem('{"a":"[[[[ 99999999999999999999999 \\" [[ 1e400"}'), null);
    assert.equal(jsonLineProblem('{"a":"\\\\","b":1e400}'), 'the number 1e400 is too large to hold');
    assert.equal(jsonLineProblem('[0.1, -0, 1E5, -12.5e-3, 9007199254740991]'), null);
    assert.match(jsonLineProblem('[-9007199254740992]') ?? '', /2\^53/);
  });
});
