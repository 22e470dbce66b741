/**
 * One acceptance suite for every `Transport` (src/transport/transport.ts), in the manner of automerge-repo's
 * network adapter tests: `describeTransport` holds the cases of the floor every implementation keeps, and runs
 * once per implementation: TCP on loopback, the Maelstrom stdio link over in-memory streams with a small router
 * standing in for Maelstrom, and the simulator's endpoints on virtual time. Each cluster runs on a network without
 * faults (loopback, a router that loses nothing, a perfect simulated network), so what is sent arrives; what a
 * faulty network does is each implementation's own tests' (transport.test.ts, simulator.test.ts).
 *
 * Every wait is for an event (a delivery, a peer coming up) or, in the simulator, for virtual time; the only
 * wall-clock figure bounds how long a missing event takes to fail a case.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { MaelstromPeerLink, readLines, writeLine } from '../src/maelstrom/stdio-link.js';
import { envelopeSchema, peerBodySchema } from '../src/maelstrom/wire.js';
import type { Protocol } from '../src/protocol/types.js';
import { perfectNetwork } from '../src/sim/network.js';
import { Simulation } from '../src/sim/simulation.js';
import * as codec from '../src/transport/codec.js';
import { freePorts } from '../src/supervisor/free-port.js';
import { TcpTransport, type PeerAddress } from '../src/transport/tcp-transport.js';
import type { Transport } from '../src/transport/transport.js';

/** Bounds how long a missing event takes to fail a case; never a margin a passing case depends on. */
const WAIT_TIMEOUT_MS = 10_000;
const A = nodeId('n1');
const B = nodeId('n2');
const C = nodeId('n3');
const IDS = [A, B, C] as const;

interface Delivery {
  readonly to: NodeId;
  readonly from: NodeId;
  readonly msg: unknown;
  /** The incarnation of `to` that got it (0 for the first). */
  readonly incarnation: number;
  /** Whether a `send` of this cluster was running when the handler ran (the floor says never). */
  readonly duringSend: boolean;
}

/** A cluster of endpoints of one implementation, as the cases see it. */
interface Cluster {
  /** The current endpoint of a node (a restart replaces it). */
  endpoint(id: NodeId): Transport;
  /** Every delivery so far, in the order the handlers ran. */
  readonly deliveries: readonly Delivery[];
  /** Lets the implementation work until `done()` holds; rejects when it does not within the bound. */
  waitFor(what: string, done: () => boolean): Promise<void>;
  /** Closes a node's endpoint and opens a new incarnation of it; absent where nodes do not restart. */
  restart?(id: NodeId): Promise<void>;
  close(): Promise<void>;
}

interface Implementation {
  readonly name: string;
  /** Whether its nodes restart (Maelstrom never restarts a node); the restart case runs only where they do. */
  readonly restarts: boolean;
  /** Messages between one pair arrive in the order sent (above the floor). */
  readonly fifo: boolean;
  makeCluster(): Promise<Cluster>;
}

/** Shared bookkeeping of the adapters: deliveries, the in-send flag, and waiting on deliveries as events. */
class Recorder {
  readonly deliveries: Delivery[] = [];
  readonly incarnations = new Map<NodeId, number>(IDS.map((id) => [id, 0]));
  private sending = 0;
  private readonly waiters = new Set<() => void>();

  handler(to: NodeId): (from: NodeId, msg: unknown) => void {
    const incarnation = this.incarnations.get(to) as number;
    return (from, msg) => {
      this.deliveries.push({ to, from, msg, incarnation, duringSend: this.sending > 0 });
      this.changed();
    };
  }

  /** Wraps an endpoint so that the cases' sends raise the in-send flag. */
  watch(transport: Transport): Transport {
    return {
      self: transport.self,
      send: (to, msg) => {
        this.sending++;
        try {
          return transport.send(to, msg);
        } finally {
          this.sending--;
        }
      },
      close: () => transport.close(),
    };
  }

  /** Something happened (a delivery, a peer up): waiters look again. */
  changed(): void {
    for (const wake of [...this.waiters]) wake();
  }

  async waitFor(what: string, done: () => boolean): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${what}`));
      }, WAIT_TIMEOUT_MS);
      this.waiters.add(check);
    });
  }
}

function describeTransport(impl: Implementation): void {
  describe(`Transport contract: ${impl.name}`, () => {
    async function withCluster(fn: (cluster: Cluster) => Promise<void>): Promise<void> {
      const cluster = await impl.makeCluster();
      try {
        await fn(cluster);
      } finally {
        await cluster.close();
      }
    }

    const from = (cluster: Cluster, to: NodeId, sender: NodeId): Delivery[] => cluster.deliveries.filter((d) => d.to === to && d.from === sender);

    test('a message arrives intact, from the node that sent it, and the handler never runs inside send', async () => {
      await withCluster(async (cluster) => {
        const msg = {
          t: 'probe',
          n: [0, 1, -1, 2 ** 40, 0.5, -1e300],
          text: 'grüße ✓ \u0000 end',
          nested: { list: [[1, 2], { x: null }], flag: true },
          values: Float64Array.of(0.25, 1, Number.MAX_VALUE),
          bytes: Uint8Array.of(0, 255, 7),
        };
        const expected = structuredClone(msg);
        assert.equal(cluster.endpoint(A).send(B, msg), true);
        assert.equal(cluster.endpoint(A).send(C, msg), true);
        await cluster.waitFor('n2 and n3 to get the message', () => from(cluster, B, A).length === 1 && from(cluster, C, A).length === 1);
        for (const d of [...from(cluster, B, A), ...from(cluster, C, A)]) {
          assert.deepEqual(d.msg, expected);
          assert.equal(d.duringSend, false);
        }
        assert.deepEqual(msg, expected, 'sending does not change the message');
        assert.equal(cluster.deliveries.length, 2, 'nothing else was delivered, to anyone');
      });
    });

    test('every pair talks both ways; on a faultless network every message arrives' + (impl.fifo ? ', in the order sent' : ''), async () => {
      await withCluster(async (cluster) => {
        const COUNT = 50;
        for (let seq = 0; seq < COUNT; seq++) {
          for (const sender of IDS) {
            for (const to of IDS) if (to !== sender) assert.equal(cluster.endpoint(sender).send(to, { seq, sender }), true);
          }
        }
        await cluster.waitFor('every message', () => cluster.deliveries.length === COUNT * IDS.length * (IDS.length - 1));
        for (const to of IDS) {
          for (const sender of IDS) {
            if (to === sender) continue;
            const got = from(cluster, to, sender).map((d) => d.msg as { seq: number; sender: NodeId });
            for (const m of got) assert.equal(m.sender, sender, 'attributed to its sender');
            const seqs = got.map((m) => m.seq);
            const want = Array.from({ length: COUNT }, (_, i) => i);
            assert.deepEqual(impl.fifo ? seqs : seqs.slice().sort((x, y) => x - y), want);
          }
        }
        assert.ok(cluster.deliveries.every((d) => !d.duringSend));
      });
    });

    test('no loopback: a send to self is refused and nothing is delivered', async () => {
      await withCluster(async (cluster) => {
        assert.equal(cluster.endpoint(A).send(A, { t: 'self' }), false);
        // A marker after it: once the marker is in, a looped-back message would have been too (faultless links).
        assert.equal(cluster.endpoint(B).send(A, { t: 'marker' }), true);
        await cluster.waitFor('the marker', () => from(cluster, A, B).length === 1);
        assert.deepEqual(
          cluster.deliveries.map((d) => [d.to, d.from]),
          [[A, B]],
        );
      });
    });

    test('a closed endpoint sends nothing and gets nothing; the others carry on; close is idempotent', async () => {
      await withCluster(async (cluster) => {
        const closed = cluster.endpoint(B);
        await closed.close();
        await closed.close();
        assert.equal(closed.send(A, { t: 'from closed' }), false);
        assert.equal(closed.send(C, { t: 'from closed' }), false);
        // Whether n1 already knows n2 is gone is the implementation's business; nothing may reach n2 either way.
        cluster.endpoint(A).send(B, { t: 'to closed' });
        assert.equal(cluster.endpoint(A).send(C, { t: 'marker' }), true);
        assert.equal(cluster.endpoint(C).send(A, { t: 'marker' }), true);
        await cluster.waitFor('the markers', () => from(cluster, C, A).length === 1 && from(cluster, A, C).length === 1);
        assert.deepEqual(
          cluster.deliveries.filter((d) => d.to === B || d.from === B),
          [],
        );
      });
    });

    if (impl.restarts) test('a restarted peer is a new incarnation: messages reach it, and its old endpoint is closed', async () => {
      const cluster = await impl.makeCluster();
      try {
        assert.ok(cluster.restart !== undefined, `${impl.name} says its nodes restart but its cluster cannot restart one`);
        assert.equal(cluster.endpoint(A).send(B, { t: 'before' }), true);
        await cluster.waitFor('the message before the restart', () => from(cluster, B, A).length === 1);
        const old = cluster.endpoint(B);
        await cluster.restart(B);
        assert.equal(old.send(A, { t: 'from the old incarnation' }), false);
        assert.equal(cluster.endpoint(A).send(B, { t: 'after' }), true);
        assert.equal(cluster.endpoint(B).send(A, { t: 'from the new incarnation' }), true);
        await cluster.waitFor('the messages after the restart', () => from(cluster, B, A).length === 2 && from(cluster, A, B).length === 1);
        const [before, after] = from(cluster, B, A);
        assert.deepEqual([before?.incarnation, (before?.msg as { t: string }).t], [0, 'before']);
        assert.deepEqual([after?.incarnation, (after?.msg as { t: string }).t], [1, 'after']);
        assert.deepEqual(from(cluster, A, B)[0]?.msg, { t: 'from the new incarnation' });
      } finally {
        await cluster.close();
      }
    });
  });
}

// ---- TCP on loopback --------------------------------------------------------------------------------------------

const silent = pino({ level: 'silent' });

const tcp: Implementation = {
  name: 'TCP (loopback)',
  restarts: true,
  fifo: true,
  async makeCluster() {
    const recorder = new Recorder();
    const ports = await freePorts(IDS.length);
    const peers: PeerAddress[] = IDS.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i] as number }));
    const transports = new Map<NodeId, TcpTransport>();
    // Peer-up events per node, by peer and incarnation: a restart waits for the new incarnation to be seen.
    const up = new Map<NodeId, Map<NodeId, string>>(IDS.map((id) => [id, new Map()]));
    const listen = async (id: NodeId): Promise<void> => {
      const incarnation = randomBytes(8).toString('hex');
      const transport = await TcpTransport.listen({
        self: peers.find((p) => p.id === id) as PeerAddress,
        peers,
        clusterId: 'transport-contract',
        incarnation,
        clusterKey: Buffer.alloc(32, 7),
        log: silent,
        onMessage: recorder.handler(id),
        onPeerUp: (peer, peerIncarnation) => {
          up.get(id)?.set(peer, peerIncarnation);
          recorder.changed();
        },
        onPeerDown: (peer) => {
          up.get(id)?.delete(peer);
          recorder.changed();
        },
      });
      transports.set(id, transport);
    };
    const allUp = (): boolean => IDS.every((id) => transports.get(id)?.connectedPeers().length === IDS.length - 1);
    for (const id of IDS) await listen(id);
    await recorder.waitFor('every connection', allUp);
    return {
      endpoint: (id) => recorder.watch(transports.get(id) as TcpTransport),
      deliveries: recorder.deliveries,
      waitFor: (what, done) => recorder.waitFor(what, done),
      async restart(id) {
        const old = transports.get(id) as TcpTransport;
        const oldIncarnation = [...up.values()].find((peersUp) => peersUp.has(id))?.get(id);
        await old.close();
        recorder.incarnations.set(id, (recorder.incarnations.get(id) as number) + 1);
        await listen(id);
        // Up again on both sides, and every peer has seen the new incarnation (not the old one's connection).
        await recorder.waitFor(`${id} back up`, () => allUp() && IDS.every((other) => other === id || up.get(other)?.get(id) !== oldIncarnation));
      },
      async close() {
        await Promise.all([...transports.values()].map((t) => t.close()));
      },
    };
  },
};

// ---- Maelstrom's stdio, routed in memory -------------------------------------------------------------------------

/**
 * Each node's stdin and stdout are streams; a router reads every node's stdout line by line and writes each line
 * to the stdin of the node it names, on a later turn and in order (Maelstrom itself reorders; this stand-in is stricter). On the node
 * side, a few lines stand in for MaelstromNode's dispatch (covered by test/process/maelstrom-node.test.ts): a
 * peer message's envelope is checked and its body handed to the link.
 */
const maelstrom: Implementation = {
  name: 'Maelstrom stdio link (in-memory router)',
  restarts: false,
  fifo: true,
  async makeCluster() {
    const recorder = new Recorder();
    const inputs = new Map<NodeId, PassThrough>();
    const links = new Map<NodeId, MaelstromPeerLink>();
    const reading: Promise<void>[] = [];
    for (const id of IDS) {
      const input = new PassThrough();
      const output = new PassThrough();
      inputs.set(id, input);
      const link = new MaelstromPeerLink({ self: id, workload: 'contract', codec, write: (m) => writeLine(output, m), onMessage: recorder.handler(id) });
      links.set(id, link);
      reading.push(
        readLines(input, (line) => {
          const envelope = envelopeSchema.parse(JSON.parse(line));
          assert.equal(envelope.dest, id, 'the router delivers to the node named');
          const body = peerBodySchema.parse(envelope.body);
          link.deliver(nodeId(envelope.src), body.m);
        }),
      );
      reading.push(
        readLines(output, (line) => {
          const dest = inputs.get(nodeId(envelopeSchema.parse(JSON.parse(line)).dest));
          // On a later turn, as from Maelstrom's own process: in-memory streams would hand the line over inside
          // the writer's call, which no pipe between processes does. setImmediate keeps the order.
          setImmediate(() => {
            if (dest !== undefined && dest.writable) dest.write(`${line}\n`);
          });
        }),
      );
    }
    return {
      endpoint: (id) => recorder.watch(links.get(id) as MaelstromPeerLink),
      deliveries: recorder.deliveries,
      waitFor: (what, done) => recorder.waitFor(what, done),
      async close() {
        await Promise.all([...links.values()].map((link) => link.close()));
        for (const input of inputs.values()) input.end();
        // Outputs are never ended by the links (the process's stdout outlives them): do not wait for them.
        void reading;
      },
    };
  },
};

// ---- the simulator's endpoints -------------------------------------------------------------------------------------

type Received = { readonly from: NodeId; readonly msg: unknown };

/** Puts out every message it receives: the kernel is the endpoint's handler, and this makes its deliveries seen. */
const recorderProtocol: Protocol<null, unknown, Received, null> = {
  name: 'transport-contract-recorder',
  init: () => ({ state: null, effects: [] }),
  step: (_state, input) => (input.kind === 'receive' ? [{ kind: 'output', value: { from: input.from, msg: input.msg } }] : []),
  isMessage: (_value: unknown): _value is unknown => true,
  metrics: () => ({}),
  invariants: () => {},
};

/** n2's crash and restart, scheduled far beyond the few virtual milliseconds the other cases take. */
const SIM_CRASH_AT_MS = 1_000_000;
const SIM_RESTART_AT_MS = SIM_CRASH_AT_MS + 1;
/** Virtual time a wait may take; the network's latency is 1 ms. */
const SIM_WAIT_MS = 10_000;

const simulated: Implementation = {
  name: 'simulator endpoints (perfect network)',
  restarts: true,
  fifo: true,
  async makeCluster() {
    const recorder = new Recorder();
    const sim = new Simulation(recorderProtocol, {
      seed: 11,
      nodes: IDS,
      optionsFor: () => null,
      network: perfectNetwork(1),
      // Through the real codec, as processes do: what arrives is a decoded copy, not the sent object.
      copyMessage: (m) => codec.decodeMessage(codec.encodeMessage(m)),
      faults: [{ kind: 'crash', node: B, atMs: SIM_CRASH_AT_MS, restartAtMs: SIM_RESTART_AT_MS }],
      untilMs: SIM_RESTART_AT_MS + SIM_WAIT_MS,
    });
    const handlers = new Map(IDS.map((id) => [id, recorder.handler(id)]));
    sim.onOutput((node, _atMs, record) => handlers.get(node)?.(record.from, record.msg));
    const current = (id: NodeId): Transport => {
      const endpoint = sim.endpoint(id);
      assert.ok(endpoint !== undefined, `${id} is up`);
      return endpoint;
    };
    const waitFor = async (what: string, done: () => boolean): Promise<void> => {
      const deadline = sim.nowMs + SIM_WAIT_MS;
      while (!done()) {
        if (sim.nowMs >= deadline) throw new Error(`no ${what} within ${SIM_WAIT_MS} virtual ms`);
        sim.runUntil(sim.nowMs + 1);
      }
    };
    return {
      endpoint: (id) => recorder.watch(current(id)),
      deliveries: recorder.deliveries,
      waitFor,
      async restart(id) {
        assert.equal(id, B, 'the simulated cluster restarts n2 only (its faults are scheduled up front)');
        sim.runUntil(SIM_RESTART_AT_MS);
        assert.equal(sim.isUp(id), true);
        recorder.incarnations.set(id, 1);
        handlers.set(id, recorder.handler(id));
      },
      async close() {},
    };
  },
};

for (const impl of [tcp, maelstrom, simulated]) describeTransport(impl);
