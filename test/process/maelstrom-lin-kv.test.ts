/**
 * lin-kv as Maelstrom runs it: three real `chatterbox maelstrom` processes, their peer messages routed between
 * them by this test (as Maelstrom's network does), clients talking to each. A smoke run of the wiring (the Raft
 * messages through the stdio peer link and the codec, the node's memory as the Raft disk): the protocol itself is
 * proved in the simulator (test/raft-sim.test.ts). Every wait is on an event: a reply, a log line, a message.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startChatterbox, type Running } from './helpers/processes.js';

type Body = Record<string, unknown> & { type: string; msg_id?: number; in_reply_to?: number };
interface Message {
  src: string;
  dest: string;
  body: Body;
}

const IDS = ['n1', 'n2', 'n3'] as const;
/** How often a request refused as unavailable (no leader known yet at that node) is retried, each after a peer message reached it. */
const MAX_RETRIES = 200;

class Cluster {
  readonly nodes = new Map<string, Running>();
  private nextId = 0;
  private readonly replies = new Map<number, (body: Body) => void>();
  private readonly peerWaiters = new Map<string, Array<() => void>>();

  constructor() {
    for (const id of IDS) {
      const running = startChatterbox(['maelstrom', '--log-level', 'info'], {}, 'pipe');
      this.nodes.set(id, running);
      running.child.onLine('stdout', (line) => this.route(JSON.parse(line) as Message));
    }
  }

  private route(m: Message): void {
    const to = this.nodes.get(m.dest);
    if (to !== undefined) {
      to.child.write(`${JSON.stringify(m)}\n`);
      const waiters = this.peerWaiters.get(m.dest) ?? [];
      this.peerWaiters.set(m.dest, []);
      for (const w of waiters) w();
      return;
    }
    const resolve = this.replies.get(m.body.in_reply_to ?? -1);
    assert.ok(resolve !== undefined, `an unexpected message: ${JSON.stringify(m)}`);
    this.replies.delete(m.body.in_reply_to!);
    resolve(m.body);
  }

  request(dest: string, body: Body): Promise<Body> {
    const msgId = ++this.nextId;
    const reply = new Promise<Body>((resolve) => this.replies.set(msgId, resolve));
    this.nodes.get(dest)!.child.write(`${JSON.stringify({ src: 'c1', dest, body: { ...body, msg_id: msgId } })}\n`);
    return reply;
  }

  /** Resolves when the next peer message reaches `node`. */
  private peerMessageTo(node: string): Promise<void> {
    return new Promise((resolve) => this.peerWaiters.set(node, [...(this.peerWaiters.get(node) ?? []), resolve]));
  }

  /** The request, retried while the node answers 11 (no leader known yet), each time after it heard from a peer. */
  async requestOnceLed(dest: string, body: Body): Promise<Body> {
    for (let attempt = 0; ; attempt++) {
      const heard = this.peerMessageTo(dest);
      const reply = await this.request(dest, body);
      if (reply['code'] !== 11 || attempt >= MAX_RETRIES) return reply;
      await heard;
    }
  }
}

describe('lin-kv over Raft in chatterbox maelstrom (processes)', () => {
  test('three nodes elect a leader; writes, cas and reads through any node are linearizable in order; bad input is 12', async () => {
    const cluster = new Cluster();
    try {
      for (const id of IDS) {
        const ok = await cluster.request(id, { type: 'init', node_id: id, node_ids: [...IDS] });
        assert.equal(ok.type, 'init_ok');
      }
      // A keyed read fixes lin-kv on each node and starts its Raft; before a leader it is refused, definitely.
      for (const id of IDS) {
        const first = await cluster.request(id, { type: 'read', key: 0 });
        assert.ok(first['code'] === 11 || first['code'] === 20, JSON.stringify(first));
      }
      // The losers' waits end in a rejection when their processes exit: caught, so none is left unhandled.
      const elected = await Promise.race(
        IDS.map((id) =>
          cluster.nodes
            .get(id)!
            .stderrMatching(/elected leader/)
            .then(() => id, () => new Promise<never>(() => undefined)),
        ),
      );
      const followers = IDS.filter((id) => id !== elected);

      assert.equal((await cluster.requestOnceLed(elected, { type: 'write', key: 1, value: 7 })).type, 'write_ok');
      const seen = await cluster.requestOnceLed(followers[0]!, { type: 'read', key: 1 });
      assert.deepEqual([seen.type, seen['value']], ['read_ok', 7]);
      assert.equal((await cluster.requestOnceLed(followers[1]!, { type: 'cas', key: 1, from: 7, to: 8 })).type, 'cas_ok');
      const stale = await cluster.requestOnceLed(followers[0]!, { type: 'cas', key: 1, from: 7, to: 9 });
      assert.deepEqual([stale.type, stale['code']], ['error', 22]);
      const missing = await cluster.requestOnceLed(followers[0]!, { type: 'cas', key: 2, from: 1, to: 2 });
      assert.deepEqual([missing.type, missing['code']], ['error', 20]);
      const last = await cluster.requestOnceLed(elected, { type: 'read', key: 1 });
      assert.deepEqual([last.type, last['value']], ['read_ok', 8]);
      const bad = await cluster.request(followers[1]!, { type: 'write', key: 1, value: 'eight' });
      assert.deepEqual([bad.type, bad['code']], ['error', 12]);

      for (const running of cluster.nodes.values()) running.child.endInput();
      for (const running of cluster.nodes.values()) assert.equal(await running.exited, 0);
    } finally {
      for (const running of cluster.nodes.values()) running.proc.kill();
    }
  });
});
