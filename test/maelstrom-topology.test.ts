/**
 * `chatterbox maelstrom --topology follow`: broadcast relays over the neighbours Maelstrom's `topology` names
 * instead of the preset's overlay. In-process: which peers a node sends to, and sweeps under the simulator with
 * faults (the harness's checker on every run).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MaelstromNode } from '../src/maelstrom/node.js';
import { WORKLOADS } from '../src/maelstrom/workloads.js';
import type { OutMessage } from '../src/maelstrom/stdio-link.js';
import { drawMaelstromScenario, runMaelstromScenario, shippedWorkload } from '../src/harness/simulated.js';
import { GOSSIP_PRESETS } from '../src/broadcast/gossip-presets.js';
import { silentLogger } from '../src/platform/log.js';
import * as codec from '../src/transport/codec.js';

const LINE = { n1: ['n2'], n2: ['n1', 'n3'], n3: ['n2'] };

function node(id: string, topology: string | undefined): { node: MaelstromNode; out: OutMessage[]; send: (m: unknown) => void } {
  const out: OutMessage[] = [];
  const n = new MaelstromNode({ preset: 'latency', ...(topology === undefined ? {} : { topology }) }, { workloads: WORKLOADS, codec }, (m) => out.push(m), silentLogger());
  const send = (m: unknown): void => n.handleLine(JSON.stringify(m));
  send({ src: 'c0', dest: id, body: { type: 'init', msg_id: 1, node_id: id, node_ids: ['n1', 'n2', 'n3'] } });
  return { node: n, out, send };
}

const peersSentTo = (out: readonly OutMessage[]): string[] => [...new Set(out.filter((m) => m.body['type'] === 'chatterbox').map((m) => m.dest))].sort();

describe('maelstrom broadcast --topology', () => {
  it('own (the default): the preset overlay, whatever the topology says', () => {
    const { node: n1, out, send } = node('n1', undefined);
    try {
      send({ src: 'c1', dest: 'n1', body: { type: 'topology', msg_id: 2, topology: LINE } });
      send({ src: 'c1', dest: 'n1', body: { type: 'broadcast', msg_id: 3, message: 1 } });
      assert.deepEqual(peersSentTo(out), ['n2', 'n3'], 'the latency preset is a full mesh');
    } finally {
      n1.stop();
    }
  });

  it('follow: sends only to the named neighbours, holds writes until the topology comes, and relays', () => {
    const a = node('n1', 'follow');
    const b = node('n2', 'follow');
    try {
      a.send({ src: 'c1', dest: 'n1', body: { type: 'broadcast', msg_id: 2, message: 1 } });
      assert.deepEqual(peersSentTo(a.out), [], 'no neighbours before the topology');
      a.send({ src: 'c1', dest: 'n1', body: { type: 'topology', msg_id: 3, topology: LINE } });
      assert.deepEqual(peersSentTo(a.out), ['n2'], 'the held write goes to n1’s one neighbour');
      b.send({ src: 'c1', dest: 'n2', body: { type: 'topology', msg_id: 2, topology: LINE } });
      for (const m of a.out.filter((x) => x.dest === 'n2' && x.body['type'] === 'chatterbox')) b.send(m);
      assert.deepEqual(peersSentTo(b.out), ['n3'], 'n2 relays to n3, not back to n1');
      b.send({ src: 'c1', dest: 'n2', body: { type: 'read', msg_id: 3 } });
      assert.deepEqual(b.out.find((m) => m.body['in_reply_to'] === 3)?.body['messages'], [1]);
    } finally {
      a.node.stop();
      b.node.stop();
    }
  });

  it('follow: valid by the harness checker through loss, partitions, pauses and crashes, on grid and tree topologies', () => {
    const base = shippedWorkload('broadcast');
    for (const preset of GOSSIP_PRESETS) {
      const hosted = { ...base, options: () => base.options({ preset, topology: 'follow' }) };
      for (const [seed, told] of [[1, 'grid'], [2, 'tree3'], [3, 'line'], [4, 'grid'], [5, 'tree2'], [6, 'grid'], [7, 'line'], [8, 'tree4']] as const) {
        const v = runMaelstromScenario({ ...drawMaelstromScenario(seed, 'broadcast', { preset, hosted, nodeCount: 5 }), topology: told });
        assert.deepEqual(v.problems, [], `seed ${seed}, ${preset}, ${told}`);
      }
    }
  });
});
