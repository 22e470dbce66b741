import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { MAX_MESSAGES_WHILE_LOADING, MaelstromNode, loadHosting, runMaelstromNode, type Hosting } from '../../src/maelstrom/node.js';
import { HOSTED_WORKLOAD_NAMES, type ClientReply, type ClientRequest, type Workload } from '../../src/maelstrom/service.js';
import type { Effect, Protocol } from '../../src/protocol/types.js';
import type { NodeId } from '../../src/core/ids.js';
import * as codec from '../../src/transport/codec.js';
import { decodeMessage, encodeMessage } from '../../src/transport/codec.js';
import { silentLogger } from '../../src/platform/log.js';
import { startChatterbox, type Running } from './helpers/processes.js';

type Json = Record<string, unknown>;

interface Message {
  src: string;
  dest: string;
  body: Json & { type: string; msg_id?: number; in_reply_to?: number };
}

/** `chatterbox maelstrom` as a real process, with stdin open and every stdout line parsed. */
class NodeProcess {
  private readonly running: Running;
  readonly proc: ChildProcess;
  readonly out: Message[] = [];
  readonly stderr: string[];
  private readonly waiters: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  private seen = 0;
  readonly exited: Promise<number | string>;

  constructor(args: readonly string[] = []) {
    this.running = startChatterbox(['maelstrom', '--log-level', 'warn', ...args], {}, 'pipe');
    this.proc = this.running.proc;
    this.stderr = this.running.stderrLines;
    this.exited = this.running.exited;
    this.running.child.onLine('stdout', (line) => {
      const m = JSON.parse(line) as Message; // every stdout line must be a message: logs go to stderr
      this.out.push(m);
      for (const w of [...this.waiters]) {
        if (w.match(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }

  send(line: string | Message): void {
    this.running.child.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
  }

  /** The next stdout message (in order), awaited. */
  next(): Promise<Message> {
    const index = this.seen++;
    const have = this.out[index];
    if (have !== undefined) return Promise.resolve(have);
    return new Promise((resolve) => this.waiters.push({ match: (m) => this.out.indexOf(m) === index, resolve }));
  }

  async request(msgId: number, body: Json & { type: string }): Promise<Message['body']> {
    this.send({ src: 'c1', dest: 'n1', body: { ...body, msg_id: msgId } });
    const reply = await this.next();
    assert.equal(reply.body.in_reply_to, msgId, `reply to ${msgId}: ${JSON.stringify(reply)}`);
    return reply.body;
  }
}

describe('chatterbox maelstrom (process)', () => {
  test('init, echo, generate; malformed lines are answered or skipped, never fatal; exits 0 when stdin closes', async () => {
    const node = new NodeProcess();
    try {
      // Before init: temporarily-unavailable.
      const early = await node.request(1, { type: 'echo', echo: 'too early' });
      assert.deepEqual([early.type, early['code']], ['error', 11]);

      const init = await node.request(2, { type: 'init', node_id: 'n1', node_ids: ['n1', 'n2', 'n3'] });
      assert.equal(init.type, 'init_ok');
      assert.equal(node.out[1]?.src, 'n1');

      const echo = await node.request(3, { type: 'echo', echo: { nested: [1, 'two', null] } });
      assert.equal(echo.type, 'echo_ok');
      assert.deepEqual(echo['echo'], { nested: [1, 'two', null] });
      assert.equal(typeof echo.msg_id, 'number');

      const ids = new Set<unknown>();
      for (let i = 0; i < 5; i++) {
        const g = await node.request(10 + i, { type: 'generate' });
        assert.equal(g.type, 'generate_ok');
        ids.add(g['id']);
      }
      assert.equal(ids.size, 5);
      assert.ok([...ids].every((id) => typeof id === 'string' && id.startsWith('n1-')));

      // Not JSON, a JSON array, no body at all: nothing to reply to; skipped. The next request proves the node
      // is alive and that nothing was written for the skipped lines (replies come in order).
      node.send('this is not json');
      node.send('[1, 2, 3]');
      node.send(JSON.stringify({ src: 'c1', dest: 'n1' }));
      const alive = await node.request(20, { type: 'echo', echo: 'still here' });
      assert.equal(alive['echo'], 'still here');

      // A body without a type, but with a msg_id to answer: malformed-request.
      node.send(JSON.stringify({ src: 'c1', dest: 'n1', body: { msg_id: 21 } }));
      const noType = await node.next();
      assert.deepEqual([noType.body.type, noType.body['code'], noType.body.in_reply_to], ['error', 12, 21]);

      // An echo without its field is malformed too; an unknown type is not-supported.
      const noEcho = await node.request(22, { type: 'echo' });
      assert.deepEqual([noEcho.type, noEcho['code']], ['error', 12]);
      const unknown = await node.request(23, { type: 'frobnicate' });
      assert.deepEqual([unknown.type, unknown['code']], ['error', 10]);
      const malformedInit = await node.request(24, { type: 'init', node_id: 'n9', node_ids: ['n1'] });
      assert.deepEqual([malformedInit.type, malformedInit['code']], ['error', 12]);

      // Replies and errors sent to the node are never answered (no error ping-pong between nodes).
      node.send({ src: 'n2', dest: 'n1', body: { type: 'read_ok', msg_id: 7, in_reply_to: 3 } });
      node.send({ src: 'n2', dest: 'n1', body: { type: 'error', code: 10, msg_id: 8 } });
      const after = await node.request(25, { type: 'echo', echo: 'next' });
      assert.equal(after['echo'], 'next');

      node.proc.stdin!.end();
      assert.equal(await node.exited, 0);
      assert.ok(node.stderr.some((l) => l.includes('not JSON')), 'the skipped line is logged on stderr');
    } finally {
      node.proc.kill();
    }
  });

  test('--help tells the flags; a bad flag is a one-line usage error (exit 2)', async () => {
    const run = async (args: string[]): Promise<{ code: number | string; out: string; err: string }> => {
      const p = startChatterbox(['maelstrom', ...args]);
      const code = await p.exited;
      return { code, out: p.stdoutLines.map((l) => `${l}\n`).join(''), err: p.stderrLines.map((l) => `${l}\n`).join('') };
    };
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /--preset <name>/);
    assert.match(help.out, /--log-level <level>/);
    const bad = await run(['--log-level', 'loud']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^chatterbox: --log-level: expected one of .*, got "loud"\n$/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Generic workload hosting, in process, with test-only workloads.

interface TallyState {
  self: NodeId;
  peers: NodeId[];
  total: number;
  preset: unknown;
}
type TallyMsg = { kind: 'add'; n: number };
type TallyEffect = Effect<TallyMsg, ClientReply>;

/** Adds numbers on every node: `tally_add {n}` adds locally and tells every peer; `read` returns the total. */
const tallyProtocol: Protocol<TallyState, TallyMsg, ClientReply, { preset: unknown }, ClientRequest> = {
  name: 'tally',
  init: ({ self, nodes, options }) => ({ state: { self, peers: nodes.filter((n) => n !== self), total: 0, preset: options.preset }, effects: [] }),
  step(state, input): TallyEffect[] {
    if (input.kind === 'receive') {
      state.total += input.msg.n;
      return [];
    }
    if (input.kind !== 'request') return [];
    const { token, body } = input.body;
    switch (body.type) {
      case 'tally_add': {
        const n = body['n'];
        if (typeof n !== 'number') return [{ kind: 'output', value: { token, body: { type: 'error', code: 12, text: 'n must be a number' } } }];
        state.total += n;
        return [
          ...state.peers.map((to): TallyEffect => ({ kind: 'send', to, msg: { kind: 'add', n } })),
          { kind: 'output', value: { token, body: { type: 'tally_add_ok' } } },
        ];
      }
      case 'read':
        return [{ kind: 'output', value: { token, body: { type: 'read_ok', value: state.total } } }];
      case 'tally_preset':
        return [{ kind: 'output', value: { token, body: { type: 'tally_preset_ok', preset: state.preset } } }];
      case 'tally_crash':
        throw new Error('boom');
      default:
        return [];
    }
  },
  isMessage: (v: unknown): v is TallyMsg =>
    typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'add' && typeof (v as { n?: unknown }).n === 'number',
  metrics: (s) => ({ total: s.total }),
  invariants: () => {},
};

const tally: Workload = {
  name: 'tally',
  claims: (body) => ['tally_add', 'read', 'tally_preset', 'tally_crash'].includes(body.type),
  protocol: tallyProtocol,
  options: (flags) => ({ preset: flags['preset'] }),
};

/** Another workload that also claims `read`, so a read before any write is ambiguous. */
const other: Workload = {
  name: 'other',
  claims: (body) => body.type === 'read' || body.type === 'other_write',
  protocol: { ...tallyProtocol, name: 'other' },
  options: () => ({ preset: null }),
};

function harnessNode(workloads: readonly Workload[], preset = 'latency'): { node: MaelstromNode; out: Message[]; send: (line: string | Message) => void } {
  const out: Message[] = [];
  const node = new MaelstromNode({ preset }, { workloads, codec }, (m) => out.push(JSON.parse(JSON.stringify(m)) as Message), silentLogger());
  return { node, out, send: (line) => node.handleLine(typeof line === 'string' ? line : JSON.stringify(line)) };
}

function init(id: string): Message {
  return { src: 'c0', dest: id, body: { type: 'init', msg_id: 1, node_id: id, node_ids: ['n1', 'n2'] } };
}

function req(dest: string, msgId: number, body: Json & { type: string }): Message {
  return { src: 'c1', dest, body: { ...body, msg_id: msgId } };
}

function replyTo(out: readonly Message[], msgId: number): Message['body'] {
  const m = out.find((x) => x.body.in_reply_to === msgId && x.dest.startsWith('c'));
  assert.ok(m !== undefined, `no reply to ${msgId} in ${JSON.stringify(out)}`);
  return m.body;
}

describe('maelstrom node hosting workloads (in process)', () => {
  test('unclaimed → 10, ambiguous before fixing → 11, the first claimed request fixes the workload', () => {
    const { node, out, send } = harnessNode([tally, other], 'throughput');
    send(init('n1'));
    send(req('n1', 2, { type: 'read' }));
    assert.deepEqual([replyTo(out, 2).type, replyTo(out, 2)['code']], ['error', 11]);
    send(req('n1', 3, { type: 'nobody_claims_this' }));
    assert.deepEqual([replyTo(out, 3).type, replyTo(out, 3)['code']], ['error', 10]);
    assert.equal(node.workloadName, undefined);

    send(req('n1', 4, { type: 'tally_add', n: 5 }));
    assert.equal(node.workloadName, 'tally');
    const ok = replyTo(out, 4);
    assert.equal(ok.type, 'tally_add_ok');
    assert.equal(typeof ok.msg_id, 'number');

    // The peer message: chatterbox envelope, base64 msgpack that decodes to the protocol's message.
    const peer = out.find((m) => m.dest === 'n2');
    assert.ok(peer !== undefined);
    assert.deepEqual([peer.src, peer.body.type, peer.body['workload']], ['n1', 'chatterbox', 'tally']);
    assert.deepEqual(decodeMessage(Buffer.from(String(peer.body['m']), 'base64')), { kind: 'add', n: 5 });

    // Fixed now: read is tally's; other's own request is not supported here; the preset was passed through.
    send(req('n1', 5, { type: 'read' }));
    assert.deepEqual([replyTo(out, 5).type, replyTo(out, 5)['value']], ['read_ok', 5]);
    send(req('n1', 6, { type: 'other_write' }));
    assert.deepEqual([replyTo(out, 6).type, replyTo(out, 6)['code']], ['error', 10]);
    send(req('n1', 7, { type: 'tally_preset' }));
    assert.equal(replyTo(out, 7)['preset'], 'throughput');
  });

  test('a peer message fixes the workload of an unfixed node; bad peer messages are dropped and counted', () => {
    const a = harnessNode([tally, other]);
    const b = harnessNode([tally, other]);
    a.send(init('n1'));
    b.send(init('n2'));
    a.send(req('n1', 2, { type: 'tally_add', n: 7 }));
    const toB = a.out.filter((m) => m.dest === 'n2');
    assert.equal(toB.length, 1);

    const bad = (m: string, workload = 'tally', src = 'n1'): Message => ({ src, dest: 'n2', body: { type: 'chatterbox', workload, m } });
    b.send(bad(Buffer.from(encodeMessage({ kind: 'add', n: 1 })).toString('base64'), 'nonexistent'));
    b.send(bad(Buffer.from([0xc1]).toString('base64'))); // not msgpack
    b.send(bad(Buffer.from(encodeMessage({ kind: 'add', n: 'one' })).toString('base64'))); // fails isMessage
    b.send(bad(Buffer.from(encodeMessage({ kind: 'add', n: 1 })).toString('base64'), 'tally', 'c9')); // not a node
    b.send({ src: 'n1', dest: 'n2', body: { type: 'chatterbox', workload: 'tally' } }); // no m
    assert.equal(b.node.stats.peerMessagesDropped, 5);
    assert.equal(b.out.length, 1, 'peer messages are never answered (only init_ok so far)');

    for (const m of toB) b.send(m);
    assert.equal(b.node.workloadName, 'tally');
    b.send(req('n2', 3, { type: 'read' }));
    assert.equal(replyTo(b.out, 3)['value'], 7);

    // A message for a different workload than the fixed one is dropped.
    b.send(bad(Buffer.from(encodeMessage({ kind: 'add', n: 1 })).toString('base64'), 'other'));
    assert.equal(b.node.stats.peerMessagesDropped, 6);
  });

  test('peer messages before init are kept and delivered after it; a crashing protocol answers 13 and the node lives', () => {
    const a = harnessNode([tally]);
    const b = harnessNode([tally]);
    a.send(init('n1'));
    a.send(req('n1', 2, { type: 'tally_add', n: 3 }));
    for (const m of a.out.filter((x) => x.dest === 'n2')) b.send(m); // b not initialized yet
    b.send(init('n2'));
    b.send(req('n2', 3, { type: 'read' }));
    assert.equal(replyTo(b.out, 3)['value'], 3);

    b.send(req('n2', 4, { type: 'tally_crash' }));
    assert.deepEqual([replyTo(b.out, 4).type, replyTo(b.out, 4)['code']], ['error', 13]);
    b.send(req('n2', 5, { type: 'read' }));
    assert.equal(replyTo(b.out, 5)['value'], 3);
  });

  test('runMaelstromNode reads lines from a stream and resolves 0 when it ends', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const lines: string[] = [];
    const reader = createInterface({ input: output });
    reader.on('line', (l) => lines.push(l));
    const done = runMaelstromNode({ input, output, log: silentLogger() }, { preset: 'latency' }, { workloads: [tally], codec });
    input.write(`${JSON.stringify(init('n1'))}\n`);
    input.write(`${JSON.stringify(req('n1', 2, { type: 'tally_add', n: 1 }))}\r\n`);
    input.end(`${JSON.stringify(req('n1', 3, { type: 'read' }))}`); // last line without a newline
    assert.equal(await done, 0);
    output.end();
    await once(reader, 'close');
    const replies = lines.map((l) => JSON.parse(l) as Message).filter((m) => m.dest === 'c1' || m.dest === 'c0');
    assert.deepEqual(
      replies.map((m) => m.body.type),
      ['init_ok', 'tally_add_ok', 'read_ok'],
    );
  });
});

describe('maelstrom node: workloads loaded on first need', () => {
  /** A loader the test completes by hand, counting how often the node asked. */
  function manualLoader(): { load: () => Promise<Hosting>; calls: () => number; finish: (hosting: Hosting | Error) => void } {
    let calls = 0;
    let finish: (hosting: Hosting | Error) => void = () => assert.fail('the node never asked for the workloads');
    const loaded = new Promise<Hosting>((resolve, reject) => {
      finish = (hosting) => (hosting instanceof Error ? reject(hosting) : resolve(hosting));
    });
    return { load: () => (calls++, loaded), calls: () => calls, finish: (hosting) => finish(hosting) };
  }

  function lazyNode(load: () => Promise<Hosting>): { node: MaelstromNode; out: Message[]; send: (m: Message) => void } {
    const out: Message[] = [];
    const node = new MaelstromNode({ preset: 'latency' }, load, (m) => out.push(JSON.parse(JSON.stringify(m)) as Message), silentLogger());
    return { node, out, send: (m) => node.handleLine(JSON.stringify(m)) };
  }

  test('help and logs name the registry\'s workloads without loading them: the names match', async () => {
    assert.deepEqual((await loadHosting()).workloads.map((w) => w.name), HOSTED_WORKLOAD_NAMES);
  });

  test('init, echo and generate load nothing; the first workload request does, and what arrives meanwhile waits, in order', async () => {
    const loader = manualLoader();
    const { node, out, send } = lazyNode(loader.load);
    send(init('n1'));
    send(req('n1', 2, { type: 'echo', echo: 'hi' }));
    send(req('n1', 3, { type: 'generate' }));
    assert.deepEqual(out.map((m) => m.body.type), ['init_ok', 'echo_ok', 'generate_ok']);
    assert.equal(loader.calls(), 0);

    send(req('n1', 4, { type: 'tally_add', n: 5 }));
    send(req('n1', 5, { type: 'echo', echo: 'after' }));
    send(req('n1', 6, { type: 'read' }));
    assert.equal(out.length, 3, 'nothing is answered while the workloads load');
    assert.equal(loader.calls(), 1);

    loader.finish({ workloads: [tally], codec });
    await node.settled();
    const replies = out.filter((m) => m.dest === 'c1').slice(2);
    assert.deepEqual(replies.map((m) => [m.body.in_reply_to, m.body.type]), [[4, 'tally_add_ok'], [5, 'echo_ok'], [6, 'read_ok']]);
    assert.equal(replyTo(out, 6)['value'], 5);
    assert.equal(node.stats.requests, 5, 'a request that waited is counted once');
    assert.equal(loader.calls(), 1);
  });

  test('a peer message after init loads the workloads too, and fixes the workload once they are there', async () => {
    const a = harnessNode([tally]);
    a.send(init('n1'));
    a.send(req('n1', 2, { type: 'tally_add', n: 2 }));
    const loader = manualLoader();
    const b = lazyNode(loader.load);
    b.send(init('n2'));
    for (const m of a.out.filter((x) => x.dest === 'n2')) b.send(m);
    assert.equal(loader.calls(), 1);
    assert.equal(b.node.workloadName, undefined);
    loader.finish({ workloads: [tally], codec });
    await b.node.settled();
    assert.equal(b.node.workloadName, 'tally');
    assert.equal(b.node.stats.peerMessagesIn, 1);
  });

  test(`past ${MAX_MESSAGES_WHILE_LOADING} waiting messages, requests get 11 at once`, async () => {
    const loader = manualLoader();
    const { node, out, send } = lazyNode(loader.load);
    send(init('n1'));
    for (let i = 0; i < MAX_MESSAGES_WHILE_LOADING; i++) send(req('n1', 10 + i, { type: 'tally_add', n: 1 }));
    const over = 10 + MAX_MESSAGES_WHILE_LOADING;
    send(req('n1', over, { type: 'tally_add', n: 1 }));
    assert.deepEqual([replyTo(out, over).type, replyTo(out, over)['code']], ['error', 11]);
    loader.finish({ workloads: [tally], codec });
    await node.settled();
    assert.equal(out.filter((m) => m.body.type === 'tally_add_ok').length, MAX_MESSAGES_WHILE_LOADING);
  });

  test('workloads that cannot be loaded: their requests get 13, init, echo and generate still work', async () => {
    const loader = manualLoader();
    const { node, out, send } = lazyNode(loader.load);
    send(init('n1'));
    send(req('n1', 2, { type: 'tally_add', n: 1 }));
    loader.finish(new Error('no such module'));
    await node.settled();
    assert.deepEqual([replyTo(out, 2)['code'], replyTo(out, 2)['text']], [13, 'cannot load the workloads: no such module']);
    send(req('n1', 3, { type: 'read' }));
    assert.equal(replyTo(out, 3)['code'], 13);
    send(req('n1', 4, { type: 'echo', echo: 1 }));
    assert.equal(replyTo(out, 4).type, 'echo_ok');
    assert.equal(loader.calls(), 1, 'a failed load is not retried');
  });
});
