import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { pino } from 'pino';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { encodeMessage } from '../src/transport/codec.js';
import { freePorts } from '../src/supervisor/free-port.js';
import { FrameDecoder, FrameError, encodeFrame, frameHeader } from '../src/transport/framing.js';
import {
  AuthError,
  Handshake,
  HandshakeError,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  clusterKeyFromFileContents,
  encodeHello,
  type Established,
  type Hello,
  type HandshakeOptions,
} from '../src/transport/secure-channel.js';
import { PendingHandshakes } from '../src/transport/pending-handshakes.js';
import { MAX_PENDING_HANDSHAKES, TcpTransport, type PeerAddress, type TcpTransportOptions } from '../src/transport/tcp-transport.js';
import type { Logger } from '../src/platform/log.js';
import { RateLimitedWarnings, WARN_BURST_INTERVAL_MS, WARN_BURST_LINES } from '../src/transport/rate-limited-warnings.js';

/** Every wait in these tests is for an event; this only bounds how long a missing event takes to fail a test. */
const WAIT_TIMEOUT_MS = 5_000;
const HOST = '127.0.0.1';
const CLUSTER = 'test-cluster';
const PINO_WARN = 40;

// --- Helpers -------------------------------------------------------------------------------------------------

/** A list of things that happened, with a way to await one (already happened or still to come). */
class Events<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<{ match: (item: T) => boolean; resolve: (item: T) => void }>();

  push(item: T): void {
    this.items.push(item);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(item)) {
        this.waiters.delete(waiter);
        waiter.resolve(item);
      }
    }
  }

  count(match: (item: T) => boolean): number {
    return this.items.filter(match).length;
  }

  waitFor(match: (item: T) => boolean, what: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<T> {
    const found = this.items.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

type LogLine = {
  level: number;
  msg: string;
  peer?: string;
  remote?: string;
  reason?: string;
  incarnation?: string;
  encrypted?: boolean;
  /** Wake-up lines: what the node did about it. */
  action?: string;
  /** Rate-limited lines: the kind of problem; summaries: how many of each kind were not logged, and in all. */
  kind?: string;
  notLogged?: Record<string, number>;
  total?: number;
};

function captureLogs(): { logger: Logger; lines: Events<LogLine> } {
  const lines = new Events<LogLine>();
  const logger = pino({ level: 'debug' }, { write: (text: string) => lines.push(JSON.parse(text) as LogLine) });
  return { logger, lines };
}

interface Received {
  readonly from: NodeId;
  readonly msg: TestMessage;
}

interface TestMessage {
  readonly tag: string;
  readonly values?: Float64Array;
  readonly seq?: number;
  readonly filler?: string;
}

interface TestNode {
  readonly id: NodeId;
  readonly transport: TcpTransport;
  readonly inbox: Events<Received>;
  readonly ups: Events<{ id: NodeId; incarnation: string }>;
  readonly downs: Events<NodeId>;
  readonly logs: Events<LogLine>;
}

type NodeOverrides = Partial<Omit<TcpTransportOptions, 'self' | 'log' | 'onMessage' | 'onPeerUp' | 'onPeerDown'>>;

async function addresses(ids: readonly string[]): Promise<PeerAddress[]> {
  const ports = await freePorts(ids.length, HOST);
  return ids.map((id, i) => ({ id: nodeId(id), host: HOST, port: ports[i] ?? 0 }));
}

function addressOf(all: readonly PeerAddress[], id: string): PeerAddress {
  const found = all.find((a) => a.id === id);
  assert.ok(found !== undefined, `no address for ${id}`);
  return found;
}

async function startNode(t: TestContext, all: readonly PeerAddress[], id: string, overrides: NodeOverrides = {}): Promise<TestNode> {
  const inbox = new Events<Received>();
  const ups = new Events<{ id: NodeId; incarnation: string }>();
  const downs = new Events<NodeId>();
  const { logger, lines } = captureLogs();
  const transport = await TcpTransport.listen({
    self: addressOf(all, id),
    peers: all,
    clusterId: CLUSTER,
    incarnation: `${id}-1`,
    log: logger,
    onMessage: (from, msg) => inbox.push({ from, msg: msg as TestMessage }),
    onPeerUp: (peer, incarnation) => ups.push({ id: peer, incarnation }),
    onPeerDown: (peer) => downs.push(peer),
    ...overrides,
  });
  t.after(() => transport.close());
  return { id: nodeId(id), transport, inbox, ups, downs, logs: lines };
}

function waitUp(node: TestNode, peer: string, incarnation?: string): Promise<unknown> {
  return node.ups.waitFor((e) => e.id === peer && (incarnation === undefined || e.incarnation === incarnation), `${node.id} to see ${peer} up`);
}

function waitMessage(node: TestNode, tag: string): Promise<Received> {
  return node.inbox.waitFor((r) => r.msg.tag === tag, `${node.id} to receive ${tag}`);
}

async function waitAllUp(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => waitUp(a, b.id))));
}

/** Sends from a to b and waits for it to arrive. */
async function exchange(from: TestNode, to: TestNode, tag: string): Promise<Received> {
  assert.equal(from.transport.send(to.id, { tag }), true, `send ${tag}`);
  return waitMessage(to, tag);
}

function waitWarn(node: TestNode, match: (line: LogLine) => boolean, what: string): Promise<LogLine> {
  return node.logs.waitFor((l) => l.level === PINO_WARN && match(l), what);
}

/** A hand-driven TCP client, to send what real nodes never would. */
class RawPeer {
  readonly frames = new Events<Uint8Array>();
  readonly closed: Promise<void>;
  /** How the node names this connection in its log lines. */
  readonly remote: string;
  private readonly decoder = new FrameDecoder();

  private constructor(readonly socket: Socket) {
    this.remote = `${HOST}:${socket.localPort ?? '?'}`;
    socket.on('error', () => {}); // resets from the node are expected
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of this.decoder.push(chunk)) this.frames.push(frame);
      } catch {
        // encrypted or odd frames from the node do not matter to these tests
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(t: TestContext, port: number): Promise<RawPeer> {
    const socket = connect({ host: HOST, port });
    t.after(() => {
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  sendHello(fields: Partial<Hello> = {}): void {
    const hello: Hello = { v: PROTOCOL_VERSION, cluster: CLUSTER, node: 'n0', incarnation: 'raw', nonce: randomBytes(NONCE_BYTES), keyed: false, ...fields };
    this.sendFrame(encodeHello(hello));
  }

  sendFrame(payload: Uint8Array): void {
    this.socket.write(encodeFrame(payload));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async waitClosed(what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for the node to close ${what}`)), WAIT_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Connections to `port` that never send a byte, `count` at a time: each is reopened as soon as the node closes
 * it, as an attacker holding as many connections open as it can would do. Stops when the test ends.
 */
function idleFlood(t: TestContext, port: number, count: number): { stop: () => void } {
  let stopped = false;
  const sockets = new Set<Socket>();
  const open = (): void => {
    if (stopped) return;
    const socket = connect({ host: HOST, port });
    sockets.add(socket);
    socket.on('error', () => {});
    socket.resume(); // reads the node's close, so the connection is reopened
    socket.on('close', () => {
      sockets.delete(socket);
      setImmediate(open);
    });
  };
  for (let i = 0; i < count; i++) open();
  const stop = (): void => {
    stopped = true;
    for (const socket of sockets) socket.destroy();
  };
  t.after(stop);
  return { stop };
}

/** A TCP proxy that forwards both ways and keeps a copy of every byte. */
async function startSniffingProxy(t: TestContext, port: number, target: number): Promise<{ captured: () => Buffer }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: HOST, port: target });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        to.write(chunk);
      });
      from.on('error', () => {});
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen({ host: HOST, port }, resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { captured: () => Buffer.concat(chunks) };
}

function concatFrames(payloads: readonly Uint8Array[]): Buffer {
  return Buffer.concat(payloads.map((p) => encodeFrame(p)));
}

// --- Framing -------------------------------------------------------------------------------------------------

describe('FrameDecoder', () => {
  test('frames in one chunk, including an empty one', () => {
    const payloads = [Buffer.from('abc'), Buffer.alloc(0), Buffer.from('defgh')];
    const frames = new FrameDecoder().push(concatFrames(payloads));
    assert.deepEqual(frames.map((f) => Buffer.from(f)), payloads);
  });

  test('one byte at a time', () => {
    const payloads = [Buffer.from('hello'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9])];
    const stream = concatFrames(payloads);
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (const byte of stream) frames.push(...decoder.push(Buffer.from([byte])));
    assert.deepEqual(frames.map((f) => Buffer.from(f)), payloads);
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('property: any payloads, any chunk boundaries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const stream = concatFrames(payloads);
          const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
          const decoder = new FrameDecoder();
          const frames: Uint8Array[] = [];
          let start = 0;
          for (const point of [...points, stream.length]) {
            frames.push(...decoder.push(stream.subarray(start, point)));
            start = point;
          }
          assert.deepEqual(frames.map((f) => Buffer.from(f)), payloads.map((p) => Buffer.from(p)));
          assert.equal(decoder.bufferedBytes, 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a large frame fed byte by byte is reassembled (linear, not quadratic)', () => {
    const payload = randomBytes(256 * 1024);
    const stream = encodeFrame(payload);
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)));
    assert.equal(frames.length, 1);
    assert.ok(Buffer.from(frames[0] ?? []).equals(payload));
  });

  test('an oversized length is refused from its header alone, and the decoder stays failed', () => {
    const decoder = new FrameDecoder(1024);
    assert.deepEqual(decoder.push(encodeFrame(Buffer.alloc(1024))).length, 1);
    assert.throws(() => decoder.push(frameHeader(1025)), FrameError);
    assert.throws(() => decoder.push(Buffer.from([1])), FrameError);
    assert.throws(() => new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff])), FrameError);
  });

  test('the cap can change between frames', () => {
    const decoder = new FrameDecoder(4);
    decoder.write(concatFrames([Buffer.from('tiny'), Buffer.from('much longer')]));
    assert.deepEqual(Buffer.from(decoder.next() ?? []), Buffer.from('tiny'));
    decoder.maxFrameBytes = 100;
    assert.deepEqual(Buffer.from(decoder.next() ?? []), Buffer.from('much longer'));
    assert.equal(decoder.next(), undefined);
  });
});

// --- Handshake (sans-IO) -------------------------------------------------------------------------------------

describe('Handshake', () => {
  const nodes = new Set(['a', 'b', 'c']);
  const key = Buffer.from('0123456789abcdef0123456789abcdef');
  const base = { nodes, clusterId: CLUSTER };
  const dialerOptions = (extra: Partial<HandshakeOptions> = {}): HandshakeOptions => ({ ...base, role: 'dialer', self: nodeId('a'), expectedPeer: nodeId('b'), incarnation: 'a1', ...extra });
  const acceptorOptions = (extra: Partial<HandshakeOptions> = {}): HandshakeOptions => ({ ...base, role: 'acceptor', self: nodeId('b'), incarnation: 'b1', ...extra });

  /** Runs both sides to completion, delivering frames in order, with an optional tamper hook. */
  function run(dialer: Handshake, acceptor: Handshake, tamper: (frame: Uint8Array, toAcceptor: boolean) => Uint8Array = (f) => f): [Established, Established] {
    let toAcceptor: Uint8Array[] = [tamper(dialer.hello, true)];
    let toDialer: Uint8Array[] = [tamper(acceptor.hello, false)];
    let dialerDone: Established | null = null;
    let acceptorDone: Established | null = null;
    while (toAcceptor.length > 0 || toDialer.length > 0) {
      const nextToDialer: Uint8Array[] = [];
      const nextToAcceptor: Uint8Array[] = [];
      for (const frame of toAcceptor) {
        const step = acceptor.receive(frame);
        nextToDialer.push(...step.send.map((f) => tamper(f, false)));
        acceptorDone ??= step.established;
      }
      for (const frame of toDialer) {
        const step = dialer.receive(frame);
        nextToAcceptor.push(...step.send.map((f) => tamper(f, true)));
        dialerDone ??= step.established;
      }
      toAcceptor = nextToAcceptor;
      toDialer = nextToDialer;
    }
    assert.ok(dialerDone !== null && acceptorDone !== null, 'handshake did not finish');
    return [dialerDone, acceptorDone];
  }

  test('without keys: plaintext, both sides learn each other', () => {
    const [d, a] = run(new Handshake(dialerOptions()), new Handshake(acceptorOptions()));
    assert.equal(d.peer, 'b');
    assert.equal(d.peerIncarnation, 'b1');
    assert.equal(a.peer, 'a');
    assert.equal(a.cipher.encrypted, false);
  });

  test('with the same key: both directions encrypt and authenticate', () => {
    const [d, a] = run(new Handshake(dialerOptions({ clusterKey: key })), new Handshake(acceptorOptions({ clusterKey: key })));
    const sealed = d.cipher.seal(Buffer.from('to acceptor'));
    assert.ok(!Buffer.from(sealed).includes('to acceptor'));
    assert.equal(Buffer.from(a.cipher.open(sealed)).toString(), 'to acceptor');
    assert.equal(Buffer.from(d.cipher.open(a.cipher.seal(Buffer.from('to dialer')))).toString(), 'to dialer');
  });

  test('replayed, reflected and altered frames fail', () => {
    const [d, a] = run(new Handshake(dialerOptions({ clusterKey: key })), new Handshake(acceptorOptions({ clusterKey: key })));
    const first = d.cipher.seal(Buffer.from('one'));
    a.cipher.open(first);
    assert.throws(() => a.cipher.open(first), AuthError, 'replay');
    assert.throws(() => d.cipher.open(d.cipher.seal(Buffer.from('me'))), AuthError, 'reflection');
    const altered = Buffer.from(d.cipher.seal(Buffer.from('two')));
    altered[0] = (altered[0] ?? 0) ^ 1;
    assert.throws(() => a.cipher.open(altered), AuthError, 'bit flip');
  });

  test('different keys fail at the proof', () => {
    const other = Buffer.from('another key, 32 bytes long......');
    assert.throws(() => run(new Handshake(dialerOptions({ clusterKey: key })), new Handshake(acceptorOptions({ clusterKey: other }))), HandshakeError);
  });

  test('a tampered hello fails at the proof', () => {
    const swapIncarnation = (frame: Uint8Array, toAcceptor: boolean): Uint8Array => {
      const text = Buffer.from(frame);
      const at = text.indexOf('a1');
      if (!toAcceptor || at < 0) return frame;
      text.write('a9', at);
      return text;
    };
    assert.throws(() => run(new Handshake(dialerOptions({ clusterKey: key })), new Handshake(acceptorOptions({ clusterKey: key })), swapIncarnation), HandshakeError);
  });

  test('refusals say why', () => {
    const refuse = (dialer: HandshakeOptions, acceptor: HandshakeOptions, pattern: RegExp): void => {
      assert.throws(() => run(new Handshake(dialer), new Handshake(acceptor)), (err: unknown) => err instanceof HandshakeError && pattern.test(err.message));
    };
    refuse(dialerOptions({ clusterId: 'other' }), acceptorOptions(), /cluster/);
    refuse(dialerOptions({ clusterKey: key }), acceptorOptions(), /cluster key/);
    refuse(dialerOptions({ self: nodeId('x') }), acceptorOptions(), /unknown node id/);
    refuse(dialerOptions({ expectedPeer: nodeId('c') }), acceptorOptions(), /dialed c but b answered/);
    // A key mismatch is refused before the direction is looked at, so it is never taken for a wake-up.
    const keyless = new Handshake(dialerOptions({ self: nodeId('c'), expectedPeer: nodeId('b') }));
    assert.throws(() => new Handshake(acceptorOptions({ clusterKey: key })).receive(keyless.hello), /no cluster key/);
    assert.throws(() => new Handshake(acceptorOptions()).receive(encodeMessage({ v: 2 })), /version 2/);
    assert.throws(() => new Handshake(acceptorOptions()).receive(Buffer.from([0xc1])), /malformed hello/);
  });

  test('a hello from a higher id on the acceptor side is a wake-up, with or without a key', () => {
    for (const clusterKey of [undefined, key]) {
      const withKey = clusterKey === undefined ? {} : { clusterKey };
      const higher = new Handshake(dialerOptions({ self: nodeId('c'), expectedPeer: nodeId('b'), ...withKey }));
      const step = new Handshake(acceptorOptions(withKey)).receive(higher.hello);
      assert.deepEqual(step, { send: [], established: null, wakeUp: 'c' });
    }
    // Only known ids in the same cluster wake anyone.
    const stranger = new Handshake(dialerOptions({ self: nodeId('c'), expectedPeer: nodeId('b'), clusterId: 'other' }));
    assert.throws(() => new Handshake(acceptorOptions()).receive(stranger.hello), /cluster/);
  });

  test('cluster key files: trailing newline ignored, short keys refused', () => {
    assert.deepEqual(clusterKeyFromFileContents(Buffer.from('0123456789abcdef\n')), Buffer.from('0123456789abcdef'));
    assert.throws(() => clusterKeyFromFileContents(Buffer.from('short\n')), /at least 16 bytes/);
  });
});

describe('PendingHandshakes: which connection an overfull node evicts', () => {
  test('silent ones first, the oldest first; those under way only when no silent one is left', () => {
    const pending = new PendingHandshakes<string>();
    for (const id of ['a', 'b', 'c']) pending.add(id, 'x');
    pending.markHelloSeen('a');
    assert.equal(pending.size, 3);
    assert.equal(pending.victim(), 'b', 'a, the oldest, has sent its hello');
    pending.delete('b');
    assert.equal(pending.victim(), 'c');
    pending.delete('c');
    assert.equal(pending.victim(), 'a');
    pending.delete('a');
    pending.delete('a'); // twice is harmless
    assert.equal(pending.victim(), undefined);
    assert.equal(pending.size, 0);
  });

  test('from the source address holding the most, so a flood from one address evicts its own', () => {
    const pending = new PendingHandshakes<string>();
    pending.add('peer', '10.0.0.1'); // the oldest of all
    for (let i = 0; i < 5; i++) pending.add(`flood-${i}`, '10.0.0.66');
    assert.equal(pending.victim(), 'flood-0');
    // Hellos forged from the flooding address: it still holds the most, among those under way too.
    pending.markHelloSeen('peer');
    for (let i = 0; i < 5; i++) pending.markHelloSeen(`flood-${i}`);
    assert.equal(pending.victim(), 'flood-0');
    for (let i = 0; i < 5; i++) pending.delete(`flood-${i}`);
    assert.equal(pending.victim(), 'peer');
  });
});

describe('RateLimitedWarnings', () => {
  test('a burst one by one, the rest counted by kind and summed up once, nothing lost', () => {
    const { logger, lines } = captureLogs();
    const warnings = new RateLimitedWarnings<'evicted' | 'refused'>(logger, 'summary', 3, 60_000);
    for (let i = 0; i < 10; i++) warnings.warn(i % 2 === 0 ? 'evicted' : 'refused', { remote: `r${i}` }, 'problem');
    assert.deepEqual(
      lines.items.map((l) => [l.msg, l.remote, l.kind]),
      [['problem', 'r0', 'evicted'], ['problem', 'r1', 'refused'], ['problem', 'r2', 'evicted']],
    );
    warnings.flush();
    const summary = lines.items[3] as LogLine & { last?: { remote?: string } };
    assert.equal(summary.msg, 'summary');
    assert.equal(summary.level, PINO_WARN);
    assert.deepEqual(summary.notLogged, { refused: 4, evicted: 3 });
    assert.equal(summary.total, 7);
    assert.equal(summary.last?.remote, 'r9');
    // A new interval logs a burst again; an interval with nothing held back ends without a summary.
    warnings.warn('refused', { remote: 'again' }, 'problem');
    warnings.flush();
    assert.deepEqual(lines.items.slice(4).map((l) => l.remote), ['again']);
  });

  test('the summary comes by itself when the interval ends', async () => {
    const { logger, lines } = captureLogs();
    const warnings = new RateLimitedWarnings<'refused'>(logger, 'summary', 1, 10);
    warnings.warn('refused', {}, 'first');
    warnings.warn('refused', {}, 'second');
    const summary = await lines.waitFor((l) => l.msg === 'summary', 'the summary line');
    assert.equal(summary.total, 1);
    assert.equal(lines.items.length, 2);
  });
});

// --- TCP transport -------------------------------------------------------------------------------------------

describe('TcpTransport', () => {
  test('three nodes exchange messages both ways, Float64Array payloads included, in order', async (t) => {
    const all = await addresses(['n1', 'n2', 'n3']);
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((id) => startNode(t, all, id)));
    await waitAllUp(nodes);
    for (const node of nodes) assert.deepEqual(node.transport.connectedPeers(), nodes.filter((n) => n !== node).map((n) => n.id));

    const arrivals: Promise<Received>[] = [];
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const tag = `${from.id}->${to.id}`;
        assert.equal(from.transport.send(to.id, { tag, values: new Float64Array([0.1, -1e300, NaN, from.id.length]) }), true);
        arrivals.push(waitMessage(to, tag));
      }
    }
    for (const received of await Promise.all(arrivals)) {
      assert.equal(received.msg.tag, `${received.from}->${received.msg.tag.split('->')[1] ?? ''}`);
      assert.ok(received.msg.values instanceof Float64Array);
      assert.deepEqual(received.msg.values, new Float64Array([0.1, -1e300, NaN, 2]));
    }

    const [n1, n2] = nodes as [TestNode, TestNode, TestNode];
    const shared = { tag: 'seq' }; // the same object to two peers is encoded once; they still both get it
    for (let seq = 0; seq < 500; seq++) n2.transport.send(n1.id, { tag: 'fifo', seq });
    n1.transport.send(n2.id, shared);
    n1.transport.send(nodeId('n3'), shared);
    await Promise.all([waitMessage(n2, 'seq'), waitMessage(nodes[2] as TestNode, 'seq')]);
    await n1.inbox.waitFor((r) => r.msg.tag === 'fifo' && r.msg.seq === 499, 'the last fifo message');
    const seqs = n1.inbox.items.filter((r) => r.msg.tag === 'fifo').map((r) => r.msg.seq);
    assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i));
    assert.equal(n1.transport.stats().framesIn, 502);
  });

  test('a peer that starts late is reached', async (t) => {
    const all = await addresses(['n1', 'n2']);
    const n1 = await startNode(t, all, 'n1');
    await n1.logs.waitFor((l) => l.msg === 'dial failed' && l.peer === 'n2', 'n1 to fail to reach n2');
    assert.equal(n1.transport.send(nodeId('n2'), { tag: 'too early' }), false);
    assert.equal(n1.transport.stats().dropped, 1);
    const n2 = await startNode(t, all, 'n2');
    await Promise.all([waitUp(n1, 'n2'), waitUp(n2, 'n1')]);
    await exchange(n1, n2, 'hello late');
    await exchange(n2, n1, 'hello early');
  });

  test('a restarted peer is reconnected, whichever side restarts', async (t) => {
    const all = await addresses(['n1', 'n2']);
    let n1 = await startNode(t, all, 'n1');
    let n2 = await startNode(t, all, 'n2');
    await waitAllUp([n1, n2]);

    // The acceptor restarts: the dialer notices and dials again.
    await n2.transport.close();
    await n1.downs.waitFor((id) => id === 'n2', 'n1 to see n2 down');
    n2 = await startNode(t, all, 'n2', { incarnation: 'n2-2' });
    await waitUp(n1, 'n2', 'n2-2');
    await exchange(n1, n2, 'after acceptor restart');
    await exchange(n2, n1, 'reply after acceptor restart');

    // The dialer restarts: it dials again, and the acceptor takes the new connection.
    await n1.transport.close();
    await n2.downs.waitFor((id) => id === 'n1', 'n2 to see n1 down');
    n1 = await startNode(t, all, 'n1', { incarnation: 'n1-2' });
    await waitUp(n2, 'n1', 'n1-2');
    await exchange(n2, n1, 'after dialer restart');
  });

  test('with rejectRestartedPeers, a restarted peer is refused with a log line', async (t) => {
    const all = await addresses(['n1', 'n2']);
    const n1 = await startNode(t, all, 'n1');
    const n2 = await startNode(t, all, 'n2', { rejectRestartedPeers: true });
    await waitAllUp([n1, n2]);
    await n1.transport.close();
    const again = await startNode(t, all, 'n1', { incarnation: 'n1-2' });
    await waitWarn(n2, (l) => l.reason?.includes('peer restarted') === true, 'n2 to refuse the restarted n1');
    assert.equal(n2.ups.count((e) => e.incarnation === 'n1-2'), 0);
    assert.deepEqual(n2.transport.connectedPeers(), []);
    await again.transport.close();
  });

  test('a keyed cluster works and says its connections are encrypted', async (t) => {
    const clusterKey = randomBytes(32);
    const all = await addresses(['n1', 'n2', 'n3']);
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((id) => startNode(t, all, id, { clusterKey })));
    await waitAllUp(nodes);
    const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    await exchange(n1, n3, 'keyed 1->3');
    await exchange(n3, n2, 'keyed 3->2');
    const received = await exchange(n2, n1, 'keyed 2->1');
    assert.equal(received.from, 'n2');
    const line = await n1.logs.waitFor((l) => l.msg === 'peer connected', 'a connect line');
    assert.equal(line.encrypted, true);
  });

  test('a connection without the cluster key is refused, and the node still serves its peers', async (t) => {
    const clusterKey = randomBytes(32);
    const all = await addresses(['n0', 'n1', 'n2']);
    const n1 = await startNode(t, all, 'n1', { clusterKey });
    const n2 = await startNode(t, all, 'n2', { clusterKey });
    await waitAllUp([n1, n2]);

    const plain = await RawPeer.connect(t, addressOf(all, 'n2').port);
    plain.sendHello({ keyed: false });
    await plain.waitClosed('a keyless hello');
    await waitWarn(n2, (l) => l.remote === plain.remote && /no cluster key/.test(l.reason ?? ''), 'the refusal line');

    // Claiming a key does not help without it: the proof cannot be made.
    const bluff = await RawPeer.connect(t, addressOf(all, 'n2').port);
    bluff.sendHello({ keyed: true });
    bluff.sendFrame(randomBytes(48));
    await bluff.waitClosed('a forged proof');
    await waitWarn(n2, (l) => l.remote === bluff.remote && /prove/.test(l.reason ?? ''), 'the forged-proof line');

    for (const raw of [plain, bluff]) assert.equal(n2.logs.count((l) => l.level === PINO_WARN && l.remote === raw.remote), 1);
    assert.equal(n2.ups.count((e) => e.id === 'n0'), 0);
    assert.equal(n2.transport.stats().refused, 2);
    await exchange(n1, n2, 'still served');
    await exchange(n2, n1, 'still serving');
  });

  test('a wrong cluster key is refused on both sides', async (t) => {
    const all = await addresses(['n1', 'n2']);
    const n1 = await startNode(t, all, 'n1', { clusterKey: randomBytes(32) });
    const n2 = await startNode(t, all, 'n2', { clusterKey: randomBytes(32) });
    await waitWarn(n1, (l) => l.peer === 'n2' && /prove/.test(l.reason ?? ''), 'n1 to refuse n2');
    await waitWarn(n2, (l) => l.peer === 'n1' && /prove/.test(l.reason ?? ''), 'n2 to refuse n1');
    assert.equal(n1.ups.items.length + n2.ups.items.length, 0);
    assert.equal(n1.transport.send(nodeId('n2'), { tag: 'nope' }), false);
  });

  test('a sniffing proxy between keyed nodes never sees the plaintext (and does without a key)', async (t) => {
    const marker = 'MARKER-7f3a9c-do-not-leak';
    for (const clusterKey of [randomBytes(32), undefined]) {
      const [proxyPort = 0, port1 = 0, port2 = 0] = await freePorts(3, HOST); // in one call, so all distinct
      const real: PeerAddress[] = [
        { id: nodeId('n1'), host: HOST, port: port1 },
        { id: nodeId('n2'), host: HOST, port: port2 },
      ];
      const viaProxy = real.map((a) => (a.id === 'n2' ? { ...a, port: proxyPort } : a)); // n1 dials n2 through the proxy
      const proxy = await startSniffingProxy(t, proxyPort, addressOf(real, 'n2').port);
      const options = clusterKey === undefined ? {} : { clusterKey };
      const n1 = await startNode(t, viaProxy, 'n1', options);
      const n2 = await startNode(t, real, 'n2', options);
      await waitAllUp([n1, n2]);
      await exchange(n1, n2, `${marker} one way`);
      await exchange(n2, n1, `${marker} other way`);
      const seen = proxy.captured();
      assert.ok(seen.includes(CLUSTER), 'the proxy saw the handshake');
      assert.equal(seen.includes(marker), clusterKey === undefined, clusterKey === undefined ? 'control: plaintext is visible' : 'ciphertext only');
      await Promise.all([n1.transport.close(), n2.transport.close()]);
    }
  });

  test('garbage and an oversized length close only that connection', async (t) => {
    const all = await addresses(['n0', 'n1', 'n2']);
    const n1 = await startNode(t, all, 'n1');
    const n2 = await startNode(t, all, 'n2');
    await waitAllUp([n1, n2]);
    const port = addressOf(all, 'n2').port;

    // Not our protocol at all: "GET " read as a length is far over the handshake cap.
    const http = await RawPeer.connect(t, port);
    http.sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await http.waitClosed('an HTTP request');
    await waitWarn(n2, (l) => l.remote === http.remote && /exceeds the cap/.test(l.reason ?? ''), 'the HTTP refusal');

    // A well-behaved hello (no key: anyone can claim a node id), then a frame that is not MessagePack.
    const garbage = await RawPeer.connect(t, port);
    garbage.sendHello({ node: 'n0' });
    await waitUp(n2, 'n0');
    garbage.sendFrame(Buffer.from([0x92, 0x01])); // an array of 2 with one element
    await garbage.waitClosed('a malformed frame');
    await n2.downs.waitFor((id) => id === 'n0', 'n2 to drop n0');
    await waitWarn(n2, (l) => l.remote === garbage.remote && l.peer === 'n0' && /malformed message/.test(l.reason ?? ''), 'the garbage line');

    // An accepted peer announcing a 4 GiB frame.
    const oversized = await RawPeer.connect(t, port);
    oversized.sendHello({ node: 'n0', incarnation: 'raw-2' });
    await waitUp(n2, 'n0', 'raw-2');
    oversized.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xf0]));
    await oversized.waitClosed('an oversized frame');
    await waitWarn(n2, (l) => l.remote === oversized.remote && /exceeds the cap/.test(l.reason ?? ''), 'the oversize line');

    for (const raw of [http, garbage, oversized]) assert.equal(n2.logs.count((l) => l.level === PINO_WARN && l.remote === raw.remote), 1);
    const stats = n2.transport.stats();
    assert.equal(stats.refused, 1);
    assert.equal(stats.malformed, 2);
    assert.deepEqual(n2.transport.connectedPeers(), ['n1']);
    await exchange(n1, n2, 'unharmed');
    await exchange(n2, n1, 'unharmed too');
  });

  test('a wrong cluster id, an unknown node id, its own id and another version are refused', async (t) => {
    const all = await addresses(['n1', 'n2', 'n3']);
    const n2 = await startNode(t, all, 'n2');
    const cases: Array<[Partial<Hello>, RegExp]> = [
      [{ cluster: 'another-cluster', node: 'n1' }, /cluster "another-cluster"/],
      [{ node: 'intruder' }, /unknown node id "intruder"/],
      [{ node: 'n2' }, /own id/],
      [{ v: 2 }, /version 2/],
    ];
    for (const [fields, reason] of cases) {
      const raw = await RawPeer.connect(t, addressOf(all, 'n2').port);
      raw.sendHello(fields);
      await raw.waitClosed(JSON.stringify(fields));
      await waitWarn(n2, (l) => l.remote === raw.remote && reason.test(l.reason ?? ''), `refusal ${reason}`);
    }
    assert.equal(n2.transport.stats().refused, cases.length);
    assert.equal(n2.ups.items.length, 0);

    // Two real nodes configured with different cluster ids never connect.
    const n1 = await startNode(t, all, 'n1', { clusterId: 'elsewhere' });
    await waitWarn(n1, (l) => l.peer === 'n2' && /cluster/.test(l.reason ?? ''), 'n1 to refuse n2');
    assert.equal(n1.ups.items.length, 0);
  });

  test('a handshake that never finishes is closed after the timeout', async (t) => {
    const all = await addresses(['n1', 'n2']);
    const n2 = await startNode(t, all, 'n2', { handshakeTimeoutMs: 100 });
    const silent = await RawPeer.connect(t, addressOf(all, 'n2').port);
    await silent.waitClosed('a silent connection');
    await waitWarn(n2, (l) => l.remote === silent.remote && /did not finish within 100 ms/.test(l.reason ?? ''), 'the timeout line');
  });

  test('a message that decodes is handed on whatever its shape: the guard is the node kernel\'s, the connection stays', async (t) => {
    const all = await addresses(['n1', 'n2']);
    const n1 = await startNode(t, all, 'n1');
    const n2 = await startNode(t, all, 'n2');
    await waitAllUp([n1, n2]);
    assert.equal(n2.transport.send(n1.id, { notATag: 42 }), true);
    await n1.inbox.waitFor((r) => r.from === 'n2' && (r.msg as unknown as { notATag?: number }).notATag === 42, 'the odd message');
    await exchange(n2, n1, 'after the odd one');
    assert.equal(n1.transport.stats().malformed, 0);
    assert.equal(n1.downs.count(() => true), 0, 'the connection stayed up');
  });

  test('sends over the queue cap or the frame cap are dropped and counted', async (t) => {
    const all = await addresses(['n1', 'n2']);
    const n1 = await startNode(t, all, 'n1', { maxQueuedBytesPerPeer: 64 * 1024, maxFrameBytes: 8 * 1024 });
    const n2 = await startNode(t, all, 'n2', { maxFrameBytes: 8 * 1024 });
    await waitAllUp([n1, n2]);
    assert.equal(n1.transport.send(n2.id, { tag: 'huge', filler: 'x'.repeat(10_000) }), false);
    await waitWarn(n1, (l) => l.msg.includes('larger than the frame cap'), 'the frame-cap line');
    // In one tick nothing leaves the corked socket, so the queue fills up.
    const results = Array.from({ length: 100 }, (_, seq) => n1.transport.send(n2.id, { tag: `q${seq}`, filler: 'y'.repeat(4_000) }));
    const accepted = results.filter(Boolean).length;
    assert.ok(accepted > 0 && accepted < 100, `accepted ${accepted}`);
    assert.equal(n1.transport.stats().dropped, 1 + 100 - accepted);
    await waitMessage(n2, `q${accepted - 1}`);
    assert.equal(n2.inbox.items.length, accepted);
    assert.equal(n1.transport.send(nodeId('nobody'), { tag: 'x' }), false);
  });

  test('close() flushes what is queued', async (t) => {
    const all = await addresses(['n1', 'n2']);
    const n1 = await startNode(t, all, 'n1');
    const n2 = await startNode(t, all, 'n2');
    await waitAllUp([n1, n2]);
    for (let seq = 0; seq < 1_000; seq++) n2.transport.send(n1.id, { tag: `last-${seq}`, filler: 'z'.repeat(1_000) });
    const closing = n2.transport.close();
    await waitMessage(n1, 'last-999');
    await closing;
    assert.equal(n1.inbox.items.length, 1_000);
    assert.equal(n2.transport.send(n1.id, { tag: 'after close' }), false);
    await n2.transport.close(); // idempotent
  });

  test('listening on a taken port fails with a message naming host:port', async (t) => {
    const all = await addresses(['n1', 'n2']);
    await startNode(t, all, 'n1');
    const port = addressOf(all, 'n1').port;
    await assert.rejects(startNode(t, all, 'n1'), (err: Error) => err.message.includes(`${HOST}:${port}`) && /EADDRINUSE/.test(err.message));
  });

  for (const keyed of [false, true]) {
    test(`idle connections far beyond the bound, reopened as they close, do not keep a listed peer out${keyed ? ' (with a key)' : ''}`, async (t) => {
      // Neither node retries for an hour (n1 its dial, n2 its wake-up): n1's first dial has to get through.
      const HOUR_MS = 3_600_000;
      const options = { reconnectDelayMs: () => HOUR_MS, ...(keyed ? { clusterKey: randomBytes(32) } : {}) };
      const all = await addresses(['n1', 'n2']);
      const n2 = await startNode(t, all, 'n2', options);
      const floodStartedMs = performance.now();
      const flood = idleFlood(t, addressOf(all, 'n2').port, 3 * MAX_PENDING_HANDSHAKES);
      // Over the bound before n1 starts: n2 has begun to close connections (evicting, or refusing or timing out).
      await waitWarn(n2, () => true, 'n2 to close a connection of the flood');
      const n1 = await startNode(t, all, 'n1', options);
      await waitAllUp([n1, n2]);
      assert.equal(n1.logs.count((l) => l.msg === 'dial failed'), 0);
      await exchange(n1, n2, 'through the flood');
      await exchange(n2, n1, 'and back');
      flood.stop();
      await n2.transport.close(); // ends the log interval: the summary of what was not logged one by one
      const elapsedMs = performance.now() - floodStartedMs;

      // The log stays bounded: each interval at most a burst of lines and one summary...
      const warns = n2.logs.items.filter((l) => l.level === PINO_WARN);
      const intervals = Math.floor(elapsedMs / WARN_BURST_INTERVAL_MS) + 1;
      assert.ok(warns.length <= intervals * (WARN_BURST_LINES + 1), `${warns.length} warn lines in ${elapsedMs.toFixed(0)} ms`);
      // ...and yet every closed connection is accounted for, one by one or in a summary.
      const { evicted, refused } = n2.transport.stats();
      const oneByOne = warns.filter((l) => l.kind !== undefined).length;
      const summed = warns.reduce((sum, l) => sum + (l.total ?? 0), 0);
      assert.equal(oneByOne + summed, evicted + refused);
      // At least the flood's first round beyond the bound was closed (evicted, or timed out on a slow machine).
      assert.ok(evicted + refused >= 2 * MAX_PENDING_HANDSHAKES, `only ${evicted} evicted and ${refused} refused`);
      assert.ok(summed > 0, 'a summary line counts what was not logged one by one');
    });
  }

  test('a silent connection is closed after the hello timeout, one that sent its hello is given the handshake timeout', async (t) => {
    const all = await addresses(['n0', 'n1']);
    const n1 = await startNode(t, all, 'n1', { clusterKey: randomBytes(32), handshakeTimeoutMs: 60_000 });
    // The greeted one first: had its hello not stopped its hello deadline, it would be closed first.
    const greeted = await RawPeer.connect(t, addressOf(all, 'n1').port);
    greeted.sendHello({ node: 'n0', keyed: true });
    await greeted.frames.waitFor(() => greeted.frames.items.length === 2, "n1's hello and proof, so n1 has read ours");
    let greetedClosed = false;
    void greeted.closed.then(() => (greetedClosed = true));
    const silent = await RawPeer.connect(t, addressOf(all, 'n1').port);
    await silent.waitClosed('a connection that never sends its hello');
    await waitWarn(n1, (l) => l.remote === silent.remote && /no hello within 1000 ms/.test(l.reason ?? ''), 'the hello timeout line');
    assert.equal(greetedClosed, false);
  });

  test('a wake-up from the restarted or late higher id makes a dialer in a long backoff dial at once', async (t) => {
    const HOUR_MS = 3_600_000;
    const all = await addresses(['n1', 'n2']);
    const n1 = await startNode(t, all, 'n1', { reconnectDelayMs: () => HOUR_MS });
    await n1.logs.waitFor((l) => l.msg === 'dial failed' && l.peer === 'n2', 'n1 to fail to reach n2, and wait an hour');
    let n2 = await startNode(t, all, 'n2');
    await waitAllUp([n1, n2]);
    const woken = await n1.logs.waitFor((l) => l.msg === 'wake-up from peer' && l.peer === 'n2', 'the wake-up line');
    assert.equal(woken.action, 'dialed');
    assert.equal(n2.logs.count((l) => l.level === PINO_WARN), 0);

    // n2 restarts: n1 loses the connection and would again wait an hour, but n2 wakes it.
    await n2.transport.close();
    await n1.downs.waitFor((id) => id === 'n2', 'n1 to see n2 down');
    n2 = await startNode(t, all, 'n2', { incarnation: 'n2-2' });
    await waitUp(n1, 'n2', 'n2-2');
    await exchange(n1, n2, 'after the wake-up');
    assert.ok(n1.transport.stats().wakeUps >= 2);
  });

  test('forged wake-ups bring a dial forward at most once per interval, and are not warnings', async (t) => {
    const HOUR_MS = 3_600_000;
    const all = await addresses(['n1', 'n2']); // n2 never runs: whoever says hello as n2 is forging it
    const n1 = await startNode(t, all, 'n1', { reconnectDelayMs: () => HOUR_MS, minWokenDialIntervalMs: HOUR_MS });
    const dialsFailed = (): number => n1.logs.count((l) => l.msg === 'dial failed' && l.peer === 'n2');
    const wakeUps = (count: number): Promise<LogLine> =>
      n1.logs.waitFor((l) => l.msg === 'wake-up from peer' && n1.logs.count((w) => w.msg === 'wake-up from peer') === count, `${count} wake-ups`);
    await n1.logs.waitFor(() => dialsFailed() === 1, 'the first dial to fail');

    const forge = async (): Promise<void> => {
      const raw = await RawPeer.connect(t, addressOf(all, 'n1').port);
      raw.sendHello({ node: 'n2' });
      await raw.waitClosed('a forged wake-up');
    };
    await forge();
    assert.equal((await wakeUps(1)).action, 'dialed');
    await n1.logs.waitFor(() => dialsFailed() === 2, 'the woken dial to fail');
    // n1 is now idle in its hour of backoff, free to dial: only the rate limit stands in the way.
    const more = 10;
    for (let i = 0; i < more; i++) await forge();
    await wakeUps(1 + more);
    const actions = n1.logs.items.filter((l) => l.msg === 'wake-up from peer').map((l) => l.action);
    assert.deepEqual(actions, ['dialed', ...Array<string>(more).fill('rate-limited')]);
    assert.equal(n1.transport.stats().wakeUps, 1 + more);
    assert.equal(n1.logs.count((l) => l.level === PINO_WARN), 0);
  });

  test('bad options are refused up front', async () => {
    const all = await addresses(['n1', 'n2']);
    const { logger } = captureLogs();
    const base: TcpTransportOptions = {
      self: addressOf(all, 'n1'),
      peers: all,
      clusterId: CLUSTER,
      incarnation: 'x',
        log: logger,
      onMessage: () => {},
    };
    await assert.rejects(TcpTransport.listen({ ...base, clusterKey: Buffer.from('short') }), /at least 16 bytes/);
    await assert.rejects(TcpTransport.listen({ ...base, self: { id: nodeId('n9'), host: HOST, port: 1 } }), /not in the peer list/);
    await assert.rejects(TcpTransport.listen({ ...base, peers: [...all, addressOf(all, 'n2')] }), /duplicate/);
    // Whatever the handshake would refuse: an id, cluster id or incarnation it cannot carry.
    const longId = nodeId('n'.repeat(300));
    await assert.rejects(TcpTransport.listen({ ...base, peers: [...all, { id: longId, host: HOST, port: 1 }] }), /node id "n+…" is 300 characters long/);
    await assert.rejects(TcpTransport.listen({ ...base, clusterId: 'c'.repeat(257) }), /cluster id .* 257 characters/);
    await assert.rejects(TcpTransport.listen({ ...base, incarnation: 'x\ud800' }), /incarnation .* lone UTF-16 surrogate/);
  });
});
