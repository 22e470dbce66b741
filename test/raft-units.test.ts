/**
 * Raft's concerns one at a time, driving `LIN_KV_PROTOCOL` by hand: votes (one per term, persisted before the
 * grant leaves, kept across a restart), the election restriction, appends (consistency check, conflict
 * truncation, persisted), restarts rebuilding the log, the client path's definite and indefinite answers,
 * lin-kv's input validation and claims, and the invariants refusing a broken state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import type { RaftMsg, RaftState } from '../src/consensus/types.js';
import { LIN_KV_PROTOCOL, LIN_KV_WORKLOAD, raftWorkloadOptions, type LinKvCommand, type LinKvState } from '../src/maelstrom/lin-kv.js';
import type { Body, ClientReply, ClientRequest } from '../src/maelstrom/service.js';
import { WORKLOADS } from '../src/maelstrom/workloads.js';
import type { Effect } from '../src/protocol/types.js';

type State = RaftState<LinKvState, LinKvCommand, ClientRequest>;
type Fx = Effect<RaftMsg<LinKvCommand>, ClientReply, string>[];
const P = LIN_KV_PROTOCOL;
const [n1, n2, n3] = [nodeId('n1'), nodeId('n2'), nodeId('n3')];
const NODES = [n1, n2, n3];

/** A node and its disk, which survives `restart`. */
class Node {
  state!: State;
  readonly disk = new Map<string, Uint8Array>();
  constructor(
    readonly self: NodeId,
    readonly nodes: readonly NodeId[] = NODES,
  ) {
    this.restart(0);
  }
  restart(now: number): Fx {
    const { state, effects } = P.init({ self: this.self, nodes: this.nodes, options: raftWorkloadOptions({ seed: 1 }), now, startedAtMs: now, restored: new Map(this.disk) });
    this.state = state;
    return this.carry(effects);
  }
  step(input: Parameters<typeof P.step>[1], now = 1): Fx {
    const fx = this.carry(P.step(this.state, input, now));
    P.invariants(this.state);
    return fx;
  }
  receive(from: NodeId, msg: RaftMsg<LinKvCommand>, now = 1): Fx {
    return this.step({ kind: 'receive', from, msg }, now);
  }
  request(token: number, body: Body, now = 1): Fx {
    return this.step({ kind: 'request', body: { token, body } }, now);
  }
  private carry(fx: Fx): Fx {
    for (const e of fx) if (e.kind === 'persist') e.value === null ? this.disk.delete(e.key) : this.disk.set(e.key, e.value);
    return fx;
  }
}

const sends = (fx: Fx) => fx.flatMap((e) => (e.kind === 'send' ? [{ to: e.to, msg: e.msg }] : []));
const outputs = (fx: Fx) => fx.flatMap((e) => (e.kind === 'output' ? [e.value.body] : []));
const vote = (term: number, lastIndex = 0, lastTerm = 0): RaftMsg<LinKvCommand> => ({ t: 'vote', term, lastIndex, lastTerm });
const granted = (fx: Fx): boolean => sends(fx).some((s) => s.msg.t === 'voteReply' && s.msg.granted);

/** Elects n1 leader of term 1 in a three-node cluster (n2 votes) and returns it. */
function leader(): Node {
  const a = new Node(n1);
  a.step({ kind: 'timer', name: 'election' }, 10);
  a.receive(n2, { t: 'voteReply', term: 1, granted: true }, 11);
  assert.equal(a.state.role, 'leader');
  return a;
}

describe('raft: elections', () => {
  it('grants one vote per term, persisted before the grant is sent, and keeps it across a restart', () => {
    const b = new Node(n2);
    const fx = b.receive(n1, vote(1));
    assert.ok(granted(fx));
    const persistAt = fx.findIndex((e) => e.kind === 'persist' && e.key === 'raft/hard');
    const replyAt = fx.findIndex((e) => e.kind === 'send');
    assert.ok(persistAt >= 0 && persistAt < replyAt, 'the vote is durable before the reply leaves');
    assert.ok(!granted(b.receive(n3, vote(1))), 'a second candidate of the same term is refused');
    b.restart(5);
    assert.equal(b.state.votedFor, n1);
    assert.ok(!granted(b.receive(n3, vote(1))), 'still refused after a restart');
    assert.ok(granted(b.receive(n1, vote(1))), 'the same candidate may ask again');
    assert.ok(granted(b.receive(n3, vote(2))), 'a later term clears the vote');
  });

  it('refuses a candidate whose log is less up-to-date (§5.4.1)', () => {
    const a = leader();
    a.request(1, { type: 'write', key: 1, value: 1 });
    assert.equal(a.state.log.length, 2);
    assert.ok(!granted(a.receive(n3, vote(2, 1, 1))), 'shorter log, same last term');
    assert.ok(granted(new Node(n2).receive(n3, vote(2, 1, 1))), 'an empty log grants');
  });

  it('a leader votes for itself, appends a no-op of its term and sends it to every peer', () => {
    const a = leader();
    assert.equal(a.state.votedFor, n1);
    assert.deepEqual(a.state.log, [{ term: 1, command: null, origin: null }]);
  });
});

describe('raft: replication', () => {
  it('refuses an append whose previous entry it lacks, with a hint, and takes it once it matches', () => {
    const b = new Node(n2);
    const entry = { term: 1, command: null, origin: null };
    const refused = sends(b.receive(n1, { t: 'append', term: 1, prevIndex: 3, prevTerm: 1, entries: [entry], commit: 0, round: 0 }));
    assert.deepEqual(refused.map((s) => s.msg), [{ t: 'appendReply', term: 1, ok: false, index: 0, round: 0 }]);
    const ok = sends(b.receive(n1, { t: 'append', term: 1, prevIndex: 0, prevTerm: 0, entries: [entry], commit: 1, round: 0 }));
    assert.deepEqual(ok.map((s) => s.msg), [{ t: 'appendReply', term: 1, ok: true, index: 1, round: 0 }]);
    assert.equal(b.state.commitIndex, 1);
    assert.equal(b.state.leader, n1);
  });

  it('replaces conflicting uncommitted entries, on disk too, and keeps entries an older append repeats', () => {
    const b = new Node(n2);
    const w = (term: number, value: number) => ({ term, command: { op: 'write', key: 1, value } as const, origin: `1.${value}@n1` });
    b.receive(n1, { t: 'append', term: 1, prevIndex: 0, prevTerm: 0, entries: [w(1, 1), w(1, 2), w(1, 3)], commit: 1, round: 0 });
    b.receive(n3, { t: 'append', term: 2, prevIndex: 1, prevTerm: 1, entries: [w(2, 4)], commit: 1, round: 0 });
    assert.deepEqual(b.state.log.map((e) => e.term), [1, 2]);
    assert.ok(!b.disk.has('raft/log/3'), 'the dropped entry is deleted from disk');
    b.receive(n3, { t: 'append', term: 2, prevIndex: 0, prevTerm: 0, entries: [w(1, 1)], commit: 1, round: 0 });
    assert.equal(b.state.log.length, 2, 'a reordered older append does not shorten the log');
    b.restart(9);
    assert.deepEqual(b.state.log.map((e) => e.term), [1, 2]);
    assert.equal(b.state.commitIndex, 0, 'a restarted node learns again what is committed');
    assert.equal(b.state.term, 2);
  });

  it('an accepted entry is on disk before the reply acknowledging it leaves', () => {
    const b = new Node(n2);
    const fx = b.receive(n1, { t: 'append', term: 1, prevIndex: 0, prevTerm: 0, entries: [{ term: 1, command: { op: 'write', key: 1, value: 1 }, origin: '1.1@n1' }], commit: 0, round: 0 });
    const written = fx.findIndex((e) => e.kind === 'persist' && e.key === 'raft/log/1');
    const replied = fx.findIndex((e) => e.kind === 'send' && e.msg.t === 'appendReply');
    assert.ok(written >= 0 && written < replied);
  });

  it('a node whose store did not survive makes origins its last life never made', () => {
    // Without a data dir a process starts from incarnation 1 every time; an origin it reused would be applied as a
    // no-op (a duplicate) by every replica, and the new request answered with the old one's result.
    const first = leader();
    const firstOrigin = first.state.log.at(-1)?.origin;
    first.request(1, { type: 'write', key: 1, value: 1 }, 5);
    const used = first.state.log.at(-1)?.origin;
    assert.ok(typeof used === 'string' && used !== firstOrigin);
    const amnesiac = new Node(n1);
    amnesiac.disk.clear(); // its store did not survive: incarnation 1 again
    amnesiac.restart(50_000);
    assert.equal(amnesiac.state.incarnation, first.state.incarnation);
    amnesiac.receive(n2, vote(7));
    amnesiac.receive(n2, { t: 'append', term: 7, prevIndex: 0, prevTerm: 0, entries: [], commit: 0, round: 0 }, 50_001);
    const fx = amnesiac.request(2, { type: 'write', key: 1, value: 2 }, 50_002);
    const forward = sends(fx).find((m) => m.msg.t === 'forward');
    assert.ok(forward !== undefined && forward.msg.t === 'forward');
    assert.notEqual(forward.msg.origin, used, 'the same incarnation, but another run');
  });

  it('a forward the network duplicated is proposed once per term and applied once', () => {
    const a = leader();
    const forward: RaftMsg<LinKvCommand> = { t: 'forward', origin: '1.1@n2', command: { op: 'cas', key: 1, from: 0, to: 1, create: true } };
    a.receive(n2, forward);
    a.receive(n2, forward);
    assert.equal(a.state.log.length, 2, 'proposed once');
    const c = leader();
    c.receive(n2, forward);
    c.state.log.push({ term: 1, command: forward.command, origin: forward.origin }); // as if proposed again by another leader
    c.receive(n3, { t: 'appendReply', term: 1, ok: true, index: 3, round: 0 });
    assert.equal(c.state.commitIndex, 3);
    assert.equal(c.state.machine.get(1), 1, 'the second copy found 1, not 0, and did not apply as a failed cas either');
    assert.equal(c.state.stats.applied, 1);
  });

  it('commits by a majority of the current term and answers the client then', () => {
    const a = leader();
    const fx = a.request(7, { type: 'write', key: 1, value: 42 });
    assert.deepEqual(outputs(fx), []);
    assert.ok(sends(fx).some((s) => s.msg.t === 'append'));
    const done = a.receive(n2, { t: 'appendReply', term: 1, ok: true, index: 2, round: 0 });
    assert.deepEqual(outputs(done), [{ type: 'write_ok' }]);
    assert.equal(a.state.machine.get(1), 42);
  });
});

describe('raft: the client path', () => {
  it('no leader known: refused as unavailable (11, definite)', () => {
    const fx = new Node(n2).request(1, { type: 'write', key: 1, value: 1 });
    assert.equal(outputs(fx)[0]?.['code'], 11);
  });

  it('a follower forwards to its leader; a refusal without a newer leader is answered indefinite (0), never 11', () => {
    const b = new Node(n2);
    b.receive(n1, { t: 'beat', term: 1, commit: 0, round: 0 });
    const fx = b.request(1, { type: 'cas', key: 1, from: 1, to: 2 });
    const forward = sends(fx).find((s) => s.msg.t === 'forward');
    assert.equal(forward?.to, n1);
    assert.ok(forward !== undefined && forward.msg.t === 'forward');
    const out = outputs(b.receive(n1, { t: 'forwardRefused', origin: forward.msg.origin, leader: null }));
    assert.equal(out[0]?.['code'], 0);
  });

  it('reads wait for a heartbeat round confirming leadership (read index), then answer from the state', () => {
    const a = leader();
    a.receive(n2, { t: 'appendReply', term: 1, ok: true, index: 1, round: 0 });
    assert.equal(a.state.commitIndex, 1);
    const fx = a.request(3, { type: 'read', key: 5 });
    assert.deepEqual(outputs(fx), [], 'not before a majority confirms');
    const beat = sends(fx).find((s) => s.msg.t === 'beat');
    assert.ok(beat !== undefined && beat.msg.t === 'beat');
    const out = outputs(a.receive(n3, { t: 'beatReply', term: 1, round: beat.msg.round }));
    assert.deepEqual(out, [{ type: 'error', code: 20, text: 'key 5 does not exist' }]);
  });

  it('a follower reads by the leader\'s read index, once it has applied up to it', () => {
    const b = new Node(n2);
    const w = { term: 1, command: { op: 'write', key: 4, value: 44 } as const, origin: '1.1@n1' };
    b.receive(n1, { t: 'append', term: 1, prevIndex: 0, prevTerm: 0, entries: [{ term: 1, command: null, origin: null }, w], commit: 1, round: 0 });
    const fx = b.request(5, { type: 'read', key: 4 });
    const ask = sends(fx).find((s) => s.msg.t === 'readIndex');
    assert.ok(ask !== undefined && ask.msg.t === 'readIndex' && ask.to === n1);
    assert.deepEqual(outputs(b.receive(n1, { t: 'readIndexReply', id: ask.msg.id, index: 2, term: 1, commit: 1 })), [], 'index 2 is not applied here yet');
    assert.deepEqual(outputs(b.receive(n1, { t: 'beat', term: 1, commit: 2, round: 1 })), [{ type: 'read_ok', value: 44 }]);
  });

  it('a single node is its own majority', () => {
    const solo = new Node(n1, [n1]);
    solo.step({ kind: 'timer', name: 'election' }, 10);
    assert.deepEqual(outputs(solo.request(1, { type: 'write', key: 1, value: 9 })), [{ type: 'write_ok' }]);
    assert.deepEqual(outputs(solo.request(2, { type: 'read', key: 1 })), [{ type: 'read_ok', value: 9 }]);
    assert.deepEqual(outputs(solo.request(3, { type: 'cas', key: 1, from: 8, to: 10 }))[0]?.['code'], 22);
    assert.deepEqual(outputs(solo.request(4, { type: 'cas', key: 2, from: 8, to: 10 }))[0]?.['code'], 20);
    assert.deepEqual(outputs(solo.request(5, { type: 'cas', key: 2, from: 8, to: 10, create_if_not_exists: true })), [{ type: 'cas_ok' }]);
  });
});

describe('lin-kv: input and claims', () => {
  it('anything but integer keys and values is malformed (12), with a text naming the field', () => {
    const solo = new Node(n1, [n1]);
    for (const body of [
      { type: 'write', key: 'k', value: 1 },
      { type: 'write', key: 1, value: 1.5 },
      { type: 'write', key: 1, value: 1e400 },
      { type: 'write', key: 1 },
      { type: 'cas', key: 1, from: 1, to: '2' },
      { type: 'read', key: 99999999999999999999999 },
    ]) {
      const [reply] = outputs(solo.request(1, body));
      assert.equal(reply?.['code'], 12, JSON.stringify(body));
      assert.match(String(reply?.['text']), /key|value|from|to/);
    }
  });

  it('lin-kv claims read/write/cas with a key; the CRDT workloads no longer claim a read that names one', () => {
    const claimants = (body: Body) => WORKLOADS.filter((w) => w.claims(body)).map((w) => w.name);
    assert.deepEqual(claimants({ type: 'read', key: 1 }), ['lin-kv']);
    assert.deepEqual(claimants({ type: 'write', key: 1, value: 2 }), ['lin-kv']);
    assert.deepEqual(claimants({ type: 'cas', key: 1, from: 1, to: 2 }), ['lin-kv']);
    assert.ok(!claimants({ type: 'read' }).includes('lin-kv'));
    assert.ok(LIN_KV_WORKLOAD.claims({ type: 'read', key: 0 }));
  });
});

describe('raft: invariants', () => {
  it('refuse a log whose terms go down, and a leader that did not vote for itself', () => {
    const a = leader();
    (a.state.log as unknown as { term: number }[]).unshift({ term: 2 });
    assert.throws(() => P.invariants(a.state), /term/);
    const b = leader();
    b.state.votedFor = n2;
    assert.throws(() => P.invariants(b.state), /vote/);
  });
});
