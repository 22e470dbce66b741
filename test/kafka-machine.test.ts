/**
 * The kafka state machine (src/maelstrom/kafka.ts) and its request mapping: offsets dense, unique and increasing
 * per key, committed offsets that only grow, refusals that change nothing, local reads in Maelstrom's shapes, and
 * error 12 for every request outside what the workload defines, with nothing acknowledged changed on the way back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage, encodeMessage } from '../src/transport/codec.js';
import {
  KAFKA_MACHINE,
  MAX_KEYS,
  MAX_KEYS_PER_REQUEST,
  MAX_KEY_CHARS,
  MAX_MESSAGES_PER_KEY,
  MAX_MSG_CHARS,
  MAX_MSG_DEPTH,
  POLL_BATCH_PER_KEY,
  POLL_BATCH_TOTAL,
  answerKafkaRead,
  kafkaCommandReply,
  kafkaInvariants,
  planKafkaRequest,
  type KafkaCommand,
  type KafkaPlan,
  type KafkaState,
} from '../src/maelstrom/kafka.js';
import type { Body } from '../src/maelstrom/service.js';

function send(state: KafkaState, key: string, msg: unknown): Body {
  const plan = planKafkaRequest({ type: 'send', key, msg });
  assert.equal(plan.kind, 'command', JSON.stringify(plan));
  return kafkaCommandReply(KAFKA_MACHINE.apply(state, (plan as Extract<KafkaPlan, { kind: 'command' }>).command));
}

function read(state: KafkaState, body: Body): Body {
  const plan = planKafkaRequest(body);
  assert.equal(plan.kind, 'read', JSON.stringify(plan));
  return answerKafkaRead(state, (plan as Extract<KafkaPlan, { kind: 'read' }>).read);
}

function command(body: Body): KafkaCommand {
  const plan = planKafkaRequest(body);
  assert.equal(plan.kind, 'command', JSON.stringify(plan));
  return (plan as Extract<KafkaPlan, { kind: 'command' }>).command;
}

function errorCode(plan: KafkaPlan): number | undefined {
  return plan.kind === 'reply' && plan.body.type === 'error' ? (plan.body['code'] as number) : undefined;
}

describe('the kafka state machine', () => {
  it('hands out dense offsets from 0, per key, in apply order', () => {
    const s = KAFKA_MACHINE.init();
    assert.deepEqual(send(s, 'a', 10), { type: 'send_ok', offset: 0 });
    assert.deepEqual(send(s, 'b', 20), { type: 'send_ok', offset: 0 });
    assert.deepEqual(send(s, 'a', 11), { type: 'send_ok', offset: 1 });
    assert.deepEqual(send(s, 'a', 10), { type: 'send_ok', offset: 2 }, 'the same message again is a new message');
    assert.equal(kafkaInvariants(s), null);
  });

  it('is deterministic: two replicas applying one command sequence hold the same logs', () => {
    const commands = [command({ type: 'send', key: 'k', msg: 1 }), command({ type: 'send', key: 'j', msg: { x: [1, 'y'] } }), command({ type: 'commit_offsets', offsets: { k: 0 } })];
    const a = KAFKA_MACHINE.init();
    const b = KAFKA_MACHINE.init();
    // What travels between replicas is the msgpack encoding of the command.
    const results = commands.map((c) => [KAFKA_MACHINE.apply(a, c), KAFKA_MACHINE.apply(b, decodeMessage(encodeMessage(c)) as KafkaCommand)]);
    for (const [x, y] of results) assert.deepEqual(x, y);
    assert.deepEqual(a, b);
  });

  it('polls return contiguous messages from the asked offset, exactly as sent, and leave out keys with nothing', () => {
    const s = KAFKA_MACHINE.init();
    const msgs = [1, 'two', { three: [3, null, true] }, -4.5, 0];
    for (const m of msgs) send(s, 'k', m);
    assert.deepEqual(read(s, { type: 'poll', offsets: { k: 1, none: 0 } }), { type: 'poll_ok', msgs: { k: msgs.slice(1).map((m, i) => [i + 1, m]) } });
    assert.deepEqual(read(s, { type: 'poll', offsets: { k: 5 } }), { type: 'poll_ok', msgs: {} });
  });

  it('a poll returns at most its batch per key and in all', () => {
    const s = KAFKA_MACHINE.init();
    const keys = Math.ceil(POLL_BATCH_TOTAL / POLL_BATCH_PER_KEY) + 1;
    for (let k = 0; k < keys; k++) for (let i = 0; i < POLL_BATCH_PER_KEY + 1; i++) send(s, `k${k}`, i);
    const body = read(s, { type: 'poll', offsets: Object.fromEntries(Array.from({ length: keys }, (_, k) => [`k${k}`, 0])) });
    const lists = Object.values(body['msgs'] as Record<string, unknown[]>);
    assert.ok(lists.every((l) => l.length <= POLL_BATCH_PER_KEY));
    assert.equal(lists.reduce((n, l) => n + l.length, 0), POLL_BATCH_TOTAL);
  });

  it('committed offsets only grow, and a commit past a log changes nothing', () => {
    const s = KAFKA_MACHINE.init();
    for (let i = 0; i < 5; i++) send(s, 'k', i);
    send(s, 'j', 0);
    assert.deepEqual(kafkaCommandReply(KAFKA_MACHINE.apply(s, command({ type: 'commit_offsets', offsets: { k: 3 } }))), { type: 'commit_offsets_ok' });
    KAFKA_MACHINE.apply(s, command({ type: 'commit_offsets', offsets: { k: 1, j: 0 } }));
    assert.deepEqual(read(s, { type: 'list_committed_offsets', keys: ['k', 'j', 'none'] }), { type: 'list_committed_offsets_ok', offsets: { k: 3, j: 0 } });
    const refused = KAFKA_MACHINE.apply(s, command({ type: 'commit_offsets', offsets: { j: 0, k: 5 } }));
    assert.equal(kafkaCommandReply(refused)['code'], 22);
    KAFKA_MACHINE.apply(s, command({ type: 'commit_offsets', offsets: { none: 0 } }));
    assert.deepEqual(read(s, { type: 'list_committed_offsets', keys: ['k', 'j', 'none'] })['offsets'], { k: 3, j: 0 });
    assert.equal(kafkaInvariants(s), null);
  });

  it('refuses, without applying, sends past its bounds on keys and messages per key', () => {
    const s = KAFKA_MACHINE.init();
    for (let k = 0; k < MAX_KEYS; k++) send(s, `k${k}`, 0);
    assert.equal(send(s, 'one-too-many', 0)['code'], 14);
    assert.equal(s.logs.has('one-too-many'), false);
    const full = KAFKA_MACHINE.init();
    full.logs.set('k', Array.from({ length: MAX_MESSAGES_PER_KEY }, () => 0));
    assert.equal(send(full, 'k', 1)['code'], 14);
    assert.equal(full.logs.get('k')?.length, MAX_MESSAGES_PER_KEY);
  });

  it('guards commands from the wire or the disk', () => {
    assert.ok(KAFKA_MACHINE.isCommand({ op: 'send', key: 'k', msg: [1, { a: 'b' }] }));
    assert.ok(KAFKA_MACHINE.isCommand({ op: 'commit', offsets: { k: 0 } }));
    for (const bad of [null, 7, {}, { op: 'send', key: 1, msg: 1 }, { op: 'send', key: 'k' }, { op: 'commit', offsets: { k: -1 } }, { op: 'commit', offsets: [] }, { op: 'drop' }]) {
      assert.equal(KAFKA_MACHINE.isCommand(bad), false, JSON.stringify(bad));
    }
  });
});

describe('kafka requests outside the workload get error 12, with a reason', () => {
  const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
  const cases: Array<[string, Body]> = [
    ['send without a key', { type: 'send', msg: 1 }],
    ['send with a numeric key', { type: 'send', key: 1, msg: 1 }],
    ['send with a key too long', { type: 'send', key: 'k'.repeat(MAX_KEY_CHARS + 1), msg: 1 }],
    ['send without a msg', { type: 'send', key: 'k' }],
    ['a msg JSON cannot carry (1e400 parses to Infinity)', { type: 'send', key: 'k', msg: JSON.parse('1e400') as number }],
    ['a msg integer JSON parsers round', { type: 'send', key: 'k', msg: JSON.parse('99999999999999999999999') as number }],
    ['a msg nested too deep', { type: 'send', key: 'k', msg: deep(MAX_MSG_DEPTH + 1) }],
    ['poll without offsets', { type: 'poll' }],
    ['poll with an array of offsets', { type: 'poll', offsets: [0] }],
    ['poll with a negative offset', { type: 'poll', offsets: { k: -1 } }],
    ['poll with a fractional offset', { type: 'poll', offsets: { k: 1.5 } }],
    ['poll with a string offset', { type: 'poll', offsets: { k: '1' } }],
    ['poll naming too many keys', { type: 'poll', offsets: Object.fromEntries(Array.from({ length: MAX_KEYS_PER_REQUEST + 1 }, (_, i) => [`k${i}`, 0])) }],
    ['commit_offsets with an unsafe integer', { type: 'commit_offsets', offsets: { k: 2 ** 53 } }],
    ['list_committed_offsets without keys', { type: 'list_committed_offsets' }],
    ['list_committed_offsets with a numeric key', { type: 'list_committed_offsets', keys: [1] }],
    // A JSON object may name __proto__; a JavaScript object (and the codec) would not keep it as its own key.
    ['send to the key __proto__', { type: 'send', key: '__proto__', msg: 1 }],
    ['commit_offsets of the key __proto__', { type: 'commit_offsets', offsets: JSON.parse('{"__proto__": 0}') as Record<string, number> }],
    ['a msg with a __proto__ field', { type: 'send', key: 'k', msg: JSON.parse('{"a": 1, "__proto__": 2}') as Record<string, number> }],
    ['a msg whose strings together pass the bound', { type: 'send', key: 'k', msg: Array.from({ length: 5 }, () => 'x'.repeat(MAX_MSG_CHARS / 4)) }],
  ];
  for (const [what, body] of cases) {
    it(what, () => {
      const plan = planKafkaRequest(body);
      assert.equal(errorCode(plan), 12, JSON.stringify(plan));
      assert.ok(plan.kind === 'reply' && typeof plan.body['text'] === 'string' && plan.body['text'].length > 0);
    });
  }

  it('accepts the deepest and the largest allowed msg, and a request type it does not know is not-supported (10)', () => {
    assert.equal(planKafkaRequest({ type: 'send', key: 'k', msg: deep(MAX_MSG_DEPTH - 1) }).kind, 'command');
    assert.equal(planKafkaRequest({ type: 'send', key: '', msg: Number.MAX_SAFE_INTEGER }).kind, 'command');
    assert.equal(errorCode(planKafkaRequest({ type: 'read' })), 10);
  });
});
