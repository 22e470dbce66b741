/**
 * The protocol contract's rules (src/protocol/types.ts), tested once against every driver: the wall-clock host
 * (as the TCP nodes run it), the Maelstrom driver (in process, its stdio replaced by a router between two nodes)
 * and the simulator. One tiny protocol exercises each rule; each driver is wrapped in the same small interface,
 * in the manner of automerge-repo's adapter acceptance suites.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { InvariantError, MAX_TIMERS_PER_PASS, NodeKernel } from '../src/kernel/node-kernel.js';
import { StoreError, type DurableStore } from '../src/kernel/durable-store.js';
import { MaelstromNode } from '../src/maelstrom/node.js';
import type { ClientReply, ClientRequest, Workload } from '../src/maelstrom/service.js';
import type { Effect, Protocol } from '../src/protocol/types.js';
import { DEBUG_INVARIANTS_ENV, WallClockHost } from '../src/kernel/wall-clock-host.js';
import { perfectNetwork } from '../src/sim/network.js';
import { Simulation, SimulationError } from '../src/sim/simulation.js';
import * as codec from '../src/transport/codec.js';

// ---- the contract probe ---------------------------------------------------------------------------------------

const N1 = nodeId('n1');
const N2 = nodeId('n2');
const NODES = [N1, N2] as const;

type ProbeMsg = { readonly k: 'ping' } | { readonly k: 'loop'; readonly n: number };
type ProbeTimer = 'a' | 'b' | 'c' | 'past';
interface ProbeState {
  readonly self: NodeId;
  broken: boolean;
}
type Fx = Effect<ProbeMsg, ClientReply, ProbeTimer>;

// @ts-expect-error a timer name the protocol does not declare is a compile error (rule 4)
const unknownTimer: Fx = { kind: 'timer', name: 'nope', at: 0 };
void unknownTimer;

/** An observation: what the rules let us see of a node, through the one effect every driver carries out. */
function obs(v: string): Fx {
  return { kind: 'log', level: 'info', text: 'obs', fields: { v } };
}

const probe: Protocol<ProbeState, ProbeMsg, ClientReply, null, ClientRequest, ProbeTimer> = {
  name: 'contract-probe',
  init: ({ self, restored }) => {
    const kept = restored.get('k');
    return { state: { self, broken: false }, effects: kept === undefined ? [] : [obs(`restored ${[...kept].join(',')}`)] };
  },
  step(state, input, now) {
    if (input.kind === 'receive') {
      return [obs(input.msg.k === 'loop' ? `loop ${input.msg.n} from ${input.from}` : `ping from ${input.from}`)];
    }
    if (input.kind === 'timer') return [obs(`timer ${input.name}`)];
    const { token, body } = input.body;
    const ok: Fx = { kind: 'output', value: { token, body: { type: 'contract_ok' } } };
    const other = state.self === N1 ? N2 : N1;
    switch (body['op']) {
      case 'halt':
        return [obs('before halt'), ok, { kind: 'halt' }, obs('after halt'), { kind: 'send', to: other, msg: { k: 'ping' } }];
      case 'self':
        return [{ kind: 'send', to: state.self, msg: { k: 'loop', n: 1 } }, { kind: 'send', to: state.self, msg: { k: 'loop', n: 2 } }, obs('sent to self'), ok];
      case 'timers':
        return [
          { kind: 'timer', name: 'a', at: now + 30 },
          { kind: 'timer', name: 'b', at: now + 10 },
          { kind: 'timer', name: 'c', at: now + 20 },
          { kind: 'timer', name: 'b', at: now + 40 }, // replaces the one at +10
          { kind: 'timer', name: 'c', at: null }, // cancelled
          { kind: 'timer', name: 'past', at: now - 5 }, // due at once
          obs('timers set'),
          ok,
        ];
      case 'persist':
        return [{ kind: 'persist', key: 'k', value: Uint8Array.of(1, 2, 3) }, { kind: 'send', to: other, msg: { k: 'ping' } }, obs('persisted'), ok];
      case 'ping':
        return [{ kind: 'send', to: other, msg: { k: 'ping' } }, ok];
      case 'break':
        state.broken = true;
        return [ok];
      default:
        return [ok];
    }
  },
  isMessage(v: unknown): v is ProbeMsg {
    const k = (v as { k?: unknown }).k;
    if (k === 'throw') throw new TypeError('a guard tripping over odd input');
    return k === 'ping' || (k === 'loop' && typeof (v as { n?: unknown }).n === 'number');
  },
  metrics: (s) => ({ broken: s.broken }),
  invariants(s) {
    assert.equal(s.broken, false, 'the probe is broken');
  },
};

// ---- the drivers, behind one interface --------------------------------------------------------------------------

interface Driven {
  /** A client's request to a node (`op` picks the probe's behaviour). */
  request(node: NodeId, op: string): void;
  /** A message as it arrived from the network, unchecked. */
  deliverRaw(from: NodeId, to: NodeId, raw: unknown): void;
  /** Lets `ms` of the driver's time pass, carrying out everything due. */
  settle(ms: number): Promise<void>;
  /** What the node observed (its `obs` log lines), in order. */
  observed(node: NodeId): string[];
  /** Warn lines the node logged. */
  warnings(node: NodeId): string[];
  metrics(node: NodeId): Readonly<Record<string, unknown>>;
  close(): void;
}

interface Driver {
  readonly name: string;
  /** Whether the driver has a durable store (the Maelstrom driver has none). */
  readonly durable: boolean;
  start(options?: { invariants?: boolean }): Driven;
}

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly v?: string;
}
const PINO_WARN = 40;

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (text: string) => lines.push(JSON.parse(text) as LogLine) });
  return { logger, lines };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withInvariantEnv<T>(on: boolean, fn: () => T): T {
  const before = process.env[DEBUG_INVARIANTS_ENV];
  if (on) process.env[DEBUG_INVARIANTS_ENV] = '1';
  else delete process.env[DEBUG_INVARIANTS_ENV];
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[DEBUG_INVARIANTS_ENV];
    else process.env[DEBUG_INVARIANTS_ENV] = before;
  }
}

/** Every durable write and send of the wall-clock hosts, in the order they were carried out. */
type Journal = string[];

const wallClock: Driver & { journal?: Journal } = {
  name: 'wall-clock host (the TCP nodes)',
  durable: true,
  start(options = {}) {
    const journal: Journal = [];
    wallClock.journal = journal;
    const logs = new Map<NodeId, LogLine[]>();
    const hosts = new Map<NodeId, WallClockHost<ProbeMsg, ClientReply, ClientRequest>>();
    let open = true;
    for (const self of NODES) {
      const { logger, lines } = capture();
      logs.set(self, lines);
      const host = withInvariantEnv(options.invariants === true, () =>
        new WallClockHost<ProbeMsg, ClientReply, ClientRequest>(probe, {
          // As the TCP transport does: asynchronously, after the sending step.
          send: (to, msg) => {
            journal.push(`${self} send ${msg.k} to ${to}`);
            setImmediate(() => open && hosts.get(to)?.receive(self, msg));
          },
          output: () => {},
          halt: () => {},
          persist: (key) => void journal.push(`${self} persist ${key}`),
          log: logger,
        }),
      );
      hosts.set(self, host);
      host.start(self, NODES, null);
    }
    return {
      request: (node, op) => hosts.get(node)!.request({ token: 1, body: { type: 'contract', op } }),
      deliverRaw: (from, to, raw) => void hosts.get(to)!.receive(from, raw),
      settle: (ms) => sleep(ms),
      observed: (node) => logs.get(node)!.filter((l) => l.msg === 'obs').map((l) => l.v ?? ''),
      warnings: (node) => logs.get(node)!.filter((l) => l.level === PINO_WARN).map((l) => l.msg),
      metrics: (node) => hosts.get(node)!.metrics(),
      close: () => {
        open = false;
        for (const host of hosts.values()) host.stop();
      },
    };
  },
};

const contractWorkload: Workload = {
  name: 'contract',
  claims: (body) => body.type === 'contract',
  protocol: probe,
  options: () => null,
};

interface MaelstromLine {
  readonly src: string;
  readonly dest: string;
  readonly body: Readonly<Record<string, unknown>>;
}

const maelstrom: Driver & { replies?: MaelstromLine[] } = {
  name: 'Maelstrom driver (in process)',
  durable: false,
  start(options = {}) {
    const logs = new Map<NodeId, LogLine[]>();
    const nodes = new Map<NodeId, MaelstromNode>();
    const replies: MaelstromLine[] = [];
    maelstrom.replies = replies;
    const queue: MaelstromLine[] = [];
    let open = true;
    let pumping = false;
    // Maelstrom's network: lines between nodes are delivered after the writing call returns, in order.
    const pump = (): void => {
      if (pumping) return;
      pumping = true;
      for (let line = queue.shift(); line !== undefined && open; line = queue.shift()) {
        const to = nodes.get(nodeId(line.dest));
        if (to === undefined) replies.push(line);
        else to.handleLine(JSON.stringify(line));
      }
      pumping = false;
    };
    for (const self of NODES) {
      const { logger, lines } = capture();
      logs.set(self, lines);
      // A disk that refuses the protocol's writes (full, gone); the driver's own note of the workload goes through.
      const refusing: DurableStore = {
        isOpen: true,
        loadAll: () => new Map(),
        put: (key) => {
          if (key.startsWith('contract/')) throw new StoreError('unusable', 'the disk refuses writes');
        },
        close: () => {},
      };
      const node = new MaelstromNode({ preset: 'latency', openStore: () => refusing }, { workloads: [contractWorkload], codec }, (m) => {
        queue.push(JSON.parse(JSON.stringify(m)) as MaelstromLine);
        setImmediate(pump);
      }, logger);
      nodes.set(self, node);
      node.handleLine(JSON.stringify({ src: 'c0', dest: self, body: { type: 'init', msg_id: 1, node_id: self, node_ids: NODES } }));
    }
    let msgId = 100;
    const send = (line: MaelstromLine): void => {
      queue.push(line);
      withInvariantEnv(options.invariants === true, pump);
    };
    // Fix the workload on both nodes first (as any client request would).
    for (const self of NODES) send({ src: 'c1', dest: self, body: { type: 'contract', op: 'noop', msg_id: msgId++ } });
    return {
      request: (node, op) => send({ src: 'c1', dest: node, body: { type: 'contract', op, msg_id: msgId++ } }),
      deliverRaw: (from, to, raw) =>
        send({ src: from, dest: to, body: { type: 'chatterbox', workload: 'contract', m: Buffer.from(codec.encodeMessage(raw)).toString('base64') } }),
      settle: async (ms) => {
        await sleep(ms);
        pump();
      },
      observed: (node) => logs.get(node)!.filter((l) => l.msg === 'obs').map((l) => l.v ?? ''),
      warnings: (node) => logs.get(node)!.filter((l) => l.level === PINO_WARN).map((l) => l.msg),
      metrics: (node) => nodes.get(node)!.metrics ?? {},
      close: () => {
        open = false;
        for (const node of nodes.values()) node.stop();
      },
    };
  },
};

const simulator: Driver = {
  name: 'simulator',
  durable: true,
  start(options = {}) {
    const sim = new Simulation(probe, {
      seed: 11,
      nodes: NODES,
      optionsFor: () => null,
      network: perfectNetwork(1),
      untilMs: 1_000_000,
      // The contract's guard rule; the simulator's stricter default treats a failed guard as a failed run.
      checkMessages: false,
      checkInvariants: options.invariants !== false,
      logCapacity: 10_000,
    });
    const lines = (node: NodeId): Array<{ text: string; level: string; v: string }> =>
      sim.report().logs.filter((l) => l.node === node).map((l) => ({ text: l.text, level: l.level, v: String(l.fields?.['v'] ?? '') }));
    return {
      request: (node, op) => sim.inject(sim.nowMs, node, { kind: 'request', body: { token: 1, body: { type: 'contract', op } } }),
      // The cast stands for a peer's bytes that decoded to anything at all.
      deliverRaw: (from, to, raw) => sim.inject(sim.nowMs, to, { kind: 'receive', from, msg: raw as ProbeMsg }),
      settle: async (ms) => sim.runUntil(sim.nowMs + ms),
      observed: (node) => lines(node).filter((l) => l.text === 'obs').map((l) => l.v),
      warnings: (node) => lines(node).filter((l) => l.level === 'warn').map((l) => l.text),
      metrics: (node) => sim.metrics(node) ?? {},
      close: () => {},
    };
  },
};

const DRIVERS = [wallClock, maelstrom, simulator];

// ---- the rules ----------------------------------------------------------------------------------------------

for (const driver of DRIVERS) {
  describe(`the contract's rules under the ${driver.name}`, () => {
    test('halt: effects before it are carried out, later ones dropped and counted, nothing fed after', async () => {
      const d = driver.start();
      try {
        d.request(N1, 'halt');
        await d.settle(20);
        d.request(N1, 'ping');
        d.deliverRaw(N2, N1, { k: 'ping' });
        await d.settle(20);
        assert.deepEqual(d.observed(N1), ['before halt']);
        assert.deepEqual(d.observed(N2), [], 'the send after the halt was dropped');
        assert.equal(d.metrics(N1)['kernel.droppedAfterHalt'], 2);
      } finally {
        d.close();
      }
    });

    test('send to self: fed back after the step, in order, never on the wire', async () => {
      const d = driver.start();
      try {
        d.request(N1, 'self');
        await d.settle(20);
        assert.deepEqual(d.observed(N1), ['sent to self', 'loop 1 from n1', 'loop 2 from n1']);
        assert.deepEqual(d.observed(N2), []);
        assert.equal(d.metrics(N1)['kernel.loopback'], 2);
        assert.equal(d.metrics(N1)['kernel.sends'], 0);
      } finally {
        d.close();
      }
    });

    test('timers: replaced, cancelled, past deadlines at once, each setting fires once, earliest first', async () => {
      const d = driver.start();
      try {
        d.request(N1, 'timers');
        await d.settle(120);
        assert.deepEqual(d.observed(N1), ['timers set', 'timer past', 'timer a', 'timer b']);
        assert.equal(d.metrics(N1)['kernel.timersFired'], 3);
      } finally {
        d.close();
      }
    });

    test('guards: a message failing isMessage (or making it throw) is dropped, counted and logged; the node goes on', async () => {
      const d = driver.start();
      try {
        d.deliverRaw(N2, N1, { k: 'bogus' });
        d.deliverRaw(N2, N1, { k: 'throw' });
        d.deliverRaw(N2, N1, { k: 'ping' });
        await d.settle(20);
        assert.deepEqual(d.observed(N1), ['ping from n2']);
        assert.equal(d.metrics(N1)['kernel.guardFailures'], 2);
        assert.equal(d.warnings(N1).filter((w) => /guard/.test(w)).length, 2);
        d.request(N2, 'ping');
        await d.settle(20);
        assert.deepEqual(d.observed(N1), ['ping from n2', 'ping from n2']);
      } finally {
        d.close();
      }
    });

    test('persistence: a write is durable before the later effects of its step (or, without a store, stops the node)', async () => {
      const d = driver.start();
      try {
        if (driver === maelstrom) {
          d.request(N1, 'persist');
          await d.settle(20);
          // The write cannot be made durable (this driver's disk refuses it): nothing after it is carried out, and the
          // node takes no more inputs.
          assert.deepEqual(d.observed(N2), []);
          assert.deepEqual(d.observed(N1), []);
          assert.equal(maelstrom.replies!.at(-1)?.body['code'], 13);
          return;
        }
        if (driver === wallClock) {
          d.request(N1, 'persist');
          await d.settle(20);
          assert.deepEqual(wallClock.journal!.filter((e) => e.startsWith('n1')), ['n1 persist k', 'n1 send ping to n2']);
          assert.deepEqual(d.observed(N2), ['ping from n1']);
          return;
        }
        // The simulator makes writes durable synchronously; that they survive a crash is tested below.
        d.request(N1, 'persist');
        await d.settle(20);
        assert.deepEqual(d.observed(N1), ['persisted']);
        assert.deepEqual(d.observed(N2), ['ping from n1']);
        assert.equal(d.metrics(N1)['kernel.persists'], 1);
      } finally {
        d.close();
      }
    });

    test('invariants: checked after every step when asked for, and a failure stops the run', async () => {
      const d = driver.start({ invariants: true });
      try {
        if (driver === simulator) {
          d.request(N1, 'break');
          await assert.rejects(d.settle(20), (e: unknown) => e instanceof SimulationError && e.seed === 11 && /protocol invariant failed.*contract-probe\.invariants failed after request.*the probe is broken/.test(e.message));
          return;
        }
        if (driver === wallClock) {
          assert.throws(() => d.request(N1, 'break'), (e: unknown) => e instanceof InvariantError && /after request/.test(e.message));
          return;
        }
        d.request(N1, 'break');
        await d.settle(20);
        const reply = maelstrom.replies!.at(-1);
        assert.equal(reply?.body['code'], 13);
        assert.match(String(reply?.body['text']), /invariants failed/);
      } finally {
        d.close();
      }
    });
  });
}

describe('the kernel itself', () => {
  test('a restarted simulated node gets back what it persisted', () => {
    const sim = new Simulation(probe, {
      seed: 3,
      nodes: NODES,
      optionsFor: () => null,
      network: perfectNetwork(1),
      faults: [{ kind: 'crash', atMs: 10, node: N1, restartAtMs: 20 }],
      untilMs: 30,
    });
    sim.inject(5, N1, { kind: 'request', body: { token: 1, body: { type: 'contract', op: 'persist' } } });
    const report = sim.run();
    const seen = report.logs.filter((l) => l.node === N1 && l.text === 'obs').map((l) => l.fields?.['v']);
    assert.deepEqual(seen, ['persisted', 'restored 1,2,3']);
  });

  test('due timers fire at most MAX_TIMERS_PER_PASS per pass, so a protocol re-arming in the past cannot starve its driver', () => {
    type S = { fired: number };
    const eager: Protocol<S, never, never, null, never, 't'> = {
      name: 'eager',
      init: ({ now }) => ({ state: { fired: 0 }, effects: [{ kind: 'timer', name: 't', at: now }] }),
      step: (s, _input, now) => {
        s.fired++;
        return [{ kind: 'timer', name: 't', at: now - 1 }];
      },
      isMessage: (_v: unknown): _v is never => false,
      metrics: (s) => ({ fired: s.fired }),
      invariants: () => {},
    };
    const kernel = new NodeKernel(eager, { send: () => {}, output: () => {}, log: () => {}, halt: () => {} });
    kernel.init({ self: N1, nodes: [N1], options: null, now: 0, startedAtMs: 0, restored: new Map() });
    assert.equal(kernel.fireDue(0), MAX_TIMERS_PER_PASS);
    assert.equal(kernel.state?.fired, MAX_TIMERS_PER_PASS);
    assert.equal(kernel.nextDeadline, 0, 'still due: the driver comes back after its other work');
  });

  test('a guard failure flood is logged at most GUARD_WARNINGS_PER_WINDOW times per window, then summed up', () => {
    const warnings: string[] = [];
    const kernel = new NodeKernel(probe, { send: () => {}, output: () => {}, log: (level, text) => level === 'warn' && warnings.push(text), halt: () => {} });
    kernel.init({ self: N1, nodes: NODES, options: null, now: 0, startedAtMs: 0, restored: new Map() });
    for (let i = 0; i < 100; i++) assert.equal(kernel.receive(N2, { k: 'bogus' }, i), false);
    assert.equal(warnings.length, 10);
    kernel.receive(N2, { k: 'bogus' }, 10_000);
    assert.equal(warnings.length, 12);
    assert.match(warnings[10] ?? '', /more messages failed/);
    assert.equal(kernel.counters.guardFailures, 101);
  });
});
