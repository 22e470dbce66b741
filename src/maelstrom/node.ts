/**
 * The Maelstrom driver: a node binary that speaks Maelstrom's protocol (doc/protocol.md) on stdin/stdout and
 * hosts chatterbox protocols as Maelstrom workloads.
 *
 * - Built in: `init` → `init_ok`, `echo` → `echo_ok` (the echo workload), `generate` → `generate_ok` (unique-ids:
 *   `"<node>-<start>-<counter>"` is unique without coordination because node ids are unique, each process of a
 *   node starts at a later millisecond than the last, and each counts).
 * - Everything else is a client request for a hosted workload (service.ts): the first request exactly one
 *   workload claims fixes the node's workload and starts its protocol in a `WallClockHost`; a request no workload
 *   claims gets `not-supported` (10), one several could claim before any is fixed gets `temporarily-unavailable`
 *   (11), as does every request before `init`.
 * - The protocol's own messages travel between nodes as `{type: "chatterbox", workload, m: base64(msgpack)}`
 *   through the workload's `MaelstromPeerLink` (stdio-link.ts, the driver's `Transport`);
 *   a node that has not fixed a workload yet fixes it from the first such message.
 * - Nothing a peer or client sends can stop the node: malformed lines are answered with `malformed-request` (12)
 *   when there is a `src` and `msg_id` to answer, otherwise logged and skipped. The node exits when stdin closes.
 * - The node's store (the `persist` effect) is opened at `init`: SQLite under `--data-dir`, else memory. Each
 *   workload's keys live under its name, and the name of the workload fixed is kept too, so a node restarted on
 *   its store runs that workload again at once, with what it persisted (`restored`); a store that cannot be
 *   opened refuses the init (crash, 13) and ends the node.
 * - The workloads and their codec (`Hosting`) are loaded when the first request or peer message needs them, not
 *   at start: Maelstrom waits for every node's `init_ok`, and a node that only answers init, echo and generate
 *   never loads them. Messages that arrive meanwhile wait, in order.
 */
import type { Readable, Writable } from 'node:stream';
import { nodeId, type NodeId } from '../core/ids.js';
import { WallClockHost } from '../kernel/wall-clock-host.js';
import type { DurableStore } from '../kernel/durable-store.js';
import { SimDisk } from '../sim/durable-store.js';
import type { Logger } from 'pino';
import type * as Codec from '../transport/codec.js';
import { jsonLineProblem } from './json-bounds.js';
import { MaelstromPeerLink, readLines, writeLine, type OutMessage } from './stdio-link.js';
import { HOSTED_WORKLOAD_NAMES, MaelstromError, type Body, type ClientReply, type ClientRequest, type Workload } from './service.js';
import {
  PEER_MESSAGE_TYPE,
  asBody,
  envelopeSchema,
  initBodySchema,
  issueText,
  peerBodySchema,
  type Envelope,
} from './wire.js';

export interface MaelstromNodeOptions {
  /** Passed to `workload.options({ preset })`; which names a workload accepts is up to the workload. */
  readonly preset: string;
  /**
   * The node's durable store behind the `persist` effect, opened at `init` (the node id is known only then); it
   * may throw (a StoreError: in use, damaged, another node's), which refuses the init and ends the node
   * (`runMaelstromNode` rejects with the error). Default: `memoryStore`, which lives as long as the process.
   */
  readonly openStore?: StoreOpener;
  /** Passed as `topology` beside `preset` (broadcast: `own` or `follow`); absent: the workload's default. */
  readonly topology?: string;
}

/** Opens the node's store for `self` of the cluster `nodes`. */
export type StoreOpener = (self: NodeId, nodes: readonly NodeId[]) => DurableStore;

/**
 * A store that lives as long as the process, for a node run without a data dir: what a Maelstrom node keeps by
 * default, nothing across a restart. The simulator's disk is exactly a map behind the `DurableStore` contract.
 */
export const memoryStore: StoreOpener = (self) => new SimDisk(self).open();

export interface MaelstromNodeIo {
  readonly input: Readable;
  readonly output: Writable;
  readonly log: Logger;
}

/** Counters for logs and tests; never used for decisions. */
export interface MaelstromNodeStats {
  linesIn: number;
  malformedLines: number;
  requests: number;
  errorsSent: number;
  peerMessagesIn: number;
  peerMessagesDropped: number;
  peerMessagesOut: number;
  repliesOut: number;
}

/** The store's key for the name of the workload the node runs; the workloads' own keys are `<name>/<key>`. */
const WORKLOAD_KEY = 'workload';

/** Peer messages that arrive before our own `init` are kept (peers may be initialized first) up to this many. */
const MAX_EARLY_PEER_MESSAGES = 10_000;

/**
 * Messages that arrive while `Hosting` loads wait, up to this many; past it, requests get temporarily-unavailable
 * (11) and peer messages are dropped (their protocols retransmit). Loading takes milliseconds.
 */
export const MAX_MESSAGES_WHILE_LOADING = 10_000;

/** What hosting a workload takes beyond init, echo and generate: the workloads and the codec of their messages. */
export interface Hosting {
  readonly workloads: readonly Workload[];
  readonly codec: typeof Codec;
}

/** The registry's workloads and the transport codec, loaded on first need (see the module comment). */
export async function loadHosting(): Promise<Hosting> {
  const [{ WORKLOADS }, codec] = await Promise.all([import('./workloads.js'), import('../transport/codec.js')]);
  return { workloads: WORKLOADS, codec };
}

interface Pending {
  readonly client: string;
  readonly msgId: number;
}

interface Hosted {
  readonly workload: Workload;
  readonly host: WallClockHost<unknown, unknown, ClientRequest>;
  /** The workload's peer messages, both ways (stdio-link.ts). */
  readonly link: MaelstromPeerLink;
}

/** The node's logic, fed one line at a time; `write` puts one message on stdout. Exported for tests. */
export class MaelstromNode {
  readonly stats: MaelstromNodeStats = {
    linesIn: 0,
    malformedLines: 0,
    requests: 0,
    errorsSent: 0,
    peerMessagesIn: 0,
    peerMessagesDropped: 0,
    peerMessagesOut: 0,
    repliesOut: 0,
  };

  private self: NodeId | undefined;
  private nodes: readonly NodeId[] = [];
  private nodeSet: ReadonlySet<string> = new Set();
  private log: Logger;
  private nextMsgId = 0;
  private nextToken = 0;
  private generated = 0;
  /** This process's start, base 36: part of every generated id (see `generate`). */
  private readonly run = Date.now().toString(36);
  private hosted: Hosted | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly earlyPeerMessages: Envelope[] = [];
  private hosting: Hosting | undefined;
  /** Set while `Hosting` loads; messages then wait in `waiting`. */
  private loading: Promise<void> | undefined;
  private readonly waiting: Envelope[] = [];
  /** Why `Hosting` could not be loaded, once that failed. */
  private hostingError: string | undefined;
  /** Opened at init. */
  private store: DurableStore | undefined;
  /** The workload an earlier incarnation fixed (from the store), to be fixed again once `Hosting` is loaded. */
  private resuming: string | undefined;

  /** `hosting` is given (tests) or loaded when first needed (the command: `loadHosting`). */
  constructor(
    private readonly options: MaelstromNodeOptions,
    hosting: Hosting | (() => Promise<Hosting>),
    private readonly write: (message: OutMessage) => void,
    private readonly baseLog: Logger,
    /** The node cannot go on (its store cannot be opened): the driver ends it with this error. */
    private readonly fatal: (error: unknown) => void = () => {},
  ) {
    this.log = baseLog;
    if (typeof hosting === 'function') this.loadHosting = hosting;
    else this.hosting = hosting;
  }

  private readonly loadHosting: (() => Promise<Hosting>) | undefined;

  /** The workload this node hosts, once fixed. */
  get workloadName(): string | undefined {
    return this.hosted?.workload.name;
  }

  handleLine(line: string): void {
    this.stats.linesIn++;
    if (line.trim().length === 0) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      this.malformed(sniffSender(line), `not JSON: ${error instanceof Error ? error.message : String(error)}`, line);
      return;
    }
    // Before anything walks the value (zod, a workload, the reply's JSON.stringify): see json-bounds.ts.
    const problem = jsonLineProblem(line);
    if (problem !== null) {
      this.malformed(json, `malformed request: ${problem}`, line);
      return;
    }
    const parsed = envelopeSchema.safeParse(json);
    if (!parsed.success) {
      this.malformed(json, `not a Maelstrom message: ${issueText(parsed.error)}`, line);
      return;
    }
    this.accept(parsed.data);
  }

  /** Resolves once no message waits for `Hosting` (stdin closed: finish what arrived before stopping). */
  async settled(): Promise<void> {
    while (this.loading !== undefined) await this.loading;
  }

  private accept(message: Envelope): void {
    if (this.loading !== undefined) {
      this.wait(message);
      return;
    }
    if (this.self !== undefined && message.dest !== this.self) {
      // Maelstrom never misroutes; answering would only confuse whoever did.
      this.stats.malformedLines++;
      this.log.warn({ dest: message.dest, src: message.src, type: message.body.type }, 'dropped a message addressed to another node');
      return;
    }
    try {
      this.dispatch(message);
    } catch (error) {
      // A bug in a handler or a protocol must not kill the node; the request (if any) gets `crash`, which
      // Maelstrom treats as indefinite: the operation may or may not have happened.
      this.log.error({ err: error, type: message.body.type, src: message.src }, 'handler failed');
      this.replyError(message, MaelstromError.crash, `internal error: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * Whether `message` can be handled now; if not, it waits and `Hosting` starts loading. Called before any
   * counting, so a message that waits is counted once, when it is handled.
   */
  private ready(message: Envelope): boolean {
    if (this.hosting !== undefined) return true;
    if (this.hostingError !== undefined) {
      this.unhostable(message, `cannot load the workloads: ${this.hostingError}`);
      return false;
    }
    this.wait(message);
    if (this.loading === undefined) this.loading = this.load();
    return false;
  }

  private wait(message: Envelope): void {
    if (this.waiting.length < MAX_MESSAGES_WHILE_LOADING) {
      this.waiting.push(message);
      return;
    }
    const text = 'still loading the workloads, and too many messages are waiting';
    if (message.body.type === PEER_MESSAGE_TYPE) this.dropPeer(message, text);
    else this.replyError(message, MaelstromError.temporarilyUnavailable, text);
  }

  /** A peer message is dropped; a request gets crash (13): Maelstrom counts the operation as indefinite. */
  private unhostable(message: Envelope, text: string): void {
    if (message.body.type === PEER_MESSAGE_TYPE) this.dropPeer(message, text);
    else this.replyError(message, MaelstromError.crash, text);
  }

  private async load(): Promise<void> {
    const started = performance.now();
    try {
      this.hosting = await (this.loadHosting as () => Promise<Hosting>)();
      this.log.debug({ ms: Math.round(performance.now() - started) }, 'workloads loaded');
    } catch (error) {
      // A broken installation. The node still answers init, echo and generate; workload messages are refused.
      this.log.fatal({ err: error }, 'cannot load the workloads');
      this.hostingError = error instanceof Error ? error.message : String(error);
    }
    this.loading = undefined;
    if (this.hosting !== undefined) this.resume();
    // In arrival order; one that needs nothing more is handled at once, and none can need loading again.
    for (const message of this.waiting.splice(0)) this.accept(message);
  }

  /** The hosted protocol's metrics and its kernel's counters, once a workload is fixed. */
  get metrics(): Readonly<Record<string, number | string | boolean>> | undefined {
    return this.hosted?.host.metrics();
  }

  /** Stops the protocol's timers (stdin closed). */
  stop(): void {
    this.hosted?.host.stop();
    void this.hosted?.link.close();
    this.store?.close();
    this.log.info({ ...this.stats, workload: this.workloadName ?? null, ...(this.hosted === undefined ? {} : { metrics: this.hosted.host.metrics() }) }, 'stdin closed; stopping');
  }

  private dispatch(message: Envelope): void {
    const body = message.body;
    if (body.type === 'init') {
      this.handleInit(message);
      return;
    }
    if (body.type === PEER_MESSAGE_TYPE) {
      this.handlePeerMessage(message);
      return;
    }
    if (body.in_reply_to !== undefined || body.type === 'error') {
      // A reply (we send no RPCs, so it is not for us): never answered, or two nodes could trade errors forever.
      this.log.debug({ src: message.src, type: body.type }, 'ignored a reply');
      return;
    }
    if (body.msg_id === undefined) {
      this.malformed(message, `${body.type} without msg_id: nothing to reply to`, undefined);
      return;
    }
    // Requests other than echo and generate go to a workload (handleClientRequest).
    if (this.self !== undefined && body.type !== 'echo' && body.type !== 'generate' && !this.ready(message)) return;
    this.stats.requests++;
    if (this.self === undefined) {
      this.replyError(message, MaelstromError.temporarilyUnavailable, `not initialized yet: got ${body.type} before init`);
      return;
    }
    switch (body.type) {
      case 'echo':
        if (!('echo' in body)) {
          this.replyError(message, MaelstromError.malformedRequest, 'echo without an echo field');
          return;
        }
        this.reply(message, { type: 'echo_ok', echo: body['echo'] });
        return;
      case 'generate':
        this.generated++;
        // The run's start time tells apart this process's ids from those of an earlier process of the same node
        // (killed and restarted, or run again), which counted from 1 too and kept no count on disk.
        this.reply(message, { type: 'generate_ok', id: `${this.self}-${this.run}-${this.generated}` });
        return;
      default:
        this.handleClientRequest(message, asBody(body));
    }
  }

  private handleInit(message: Envelope): void {
    const parsed = initBodySchema.safeParse(message.body);
    if (!parsed.success) {
      this.replyError(message, MaelstromError.malformedRequest, `malformed init: ${issueText(parsed.error)}`);
      return;
    }
    const { node_id: id, node_ids: ids } = parsed.data;
    if (!ids.includes(id)) {
      this.replyError(message, MaelstromError.malformedRequest, `malformed init: node_ids ${JSON.stringify(ids)} do not include node_id ${JSON.stringify(id)}`);
      return;
    }
    if (new Set(ids).size !== ids.length) {
      this.replyError(message, MaelstromError.malformedRequest, 'malformed init: node_ids has duplicates');
      return;
    }
    if (this.self !== undefined) {
      const same = this.self === id && this.nodes.length === ids.length && this.nodes.every((n, i) => n === ids[i]);
      // A repeated identical init is harmless (a retry); a different one would change who we are mid-run.
      if (same) this.reply(message, { type: 'init_ok' });
      else this.replyError(message, MaelstromError.temporarilyUnavailable, `already initialized as ${this.self}`);
      return;
    }
    try {
      this.store = (this.options.openStore ?? memoryStore)(nodeId(id), ids.map(nodeId));
    } catch (error) {
      // Answered first, so that whoever started us sees why in the init's reply as well as on stderr.
      this.replyError(message, MaelstromError.crash, `cannot open the node's store: ${error instanceof Error ? error.message : String(error)}`);
      this.fatal(error);
      return;
    }
    this.self = nodeId(id);
    this.nodes = ids.map(nodeId);
    this.nodeSet = new Set(ids);
    this.log = this.baseLog.child({ node: id });
    const saved = this.store.loadAll().get(WORKLOAD_KEY);
    const workloads = this.hosting?.workloads.map((w) => w.name) ?? HOSTED_WORKLOAD_NAMES;
    this.log.info({ nodes: ids.length, preset: this.options.preset, workloads }, 'initialized');
    this.reply(message, { type: 'init_ok' });
    if (saved !== undefined) {
      // Restarted with its store: the workload runs again at once (its timers too), without waiting for a request.
      this.resuming = new TextDecoder().decode(saved);
      if (this.hosting !== undefined) this.resume();
      else if (this.loading === undefined && this.hostingError === undefined) this.loading = this.load();
    }
    const early = this.earlyPeerMessages.splice(0);
    for (const m of early) {
      if (m.dest === this.self) this.handlePeerMessage(m);
      else this.dropPeer(m, 'addressed to another node');
    }
  }

  private handleClientRequest(message: Envelope, body: Body): void {
    let hosted = this.hosted;
    if (hosted === undefined) {
      const claimants = (this.hosting as Hosting).workloads.filter((w) => w.claims(body));
      if (claimants.length === 0) {
        this.replyError(message, MaelstromError.notSupported, `${body.type} is not supported`);
        return;
      }
      if (claimants.length > 1) {
        this.replyError(
          message,
          MaelstromError.temporarilyUnavailable,
          `${body.type} could belong to ${claimants.map((w) => w.name).join(' or ')}; no workload is running yet`,
        );
        return;
      }
      hosted = this.fix(claimants[0] as Workload);
      if (hosted === undefined) {
        this.replyError(message, MaelstromError.notSupported, `cannot start ${(claimants[0] as Workload).name} with preset ${JSON.stringify(this.options.preset)}`);
        return;
      }
    } else if (!hosted.workload.claims(body)) {
      this.replyError(message, MaelstromError.notSupported, `${body.type} is not supported by ${hosted.workload.name}`);
      return;
    }
    if (hosted.host.isHalted) {
      this.replyError(message, MaelstromError.temporarilyUnavailable, `${hosted.workload.name} has stopped`);
      return;
    }
    const token = ++this.nextToken;
    this.pending.set(token, { client: message.src, msgId: body.msg_id as number });
    try {
      hosted.host.request({ token, body });
    } catch (error) {
      this.pending.delete(token);
      throw error;
    }
  }

  private handlePeerMessage(message: Envelope): void {
    if (this.self !== undefined && !this.ready(message)) return;
    this.stats.peerMessagesIn++;
    if (this.self === undefined) {
      if (this.earlyPeerMessages.length < MAX_EARLY_PEER_MESSAGES) this.earlyPeerMessages.push(message);
      else this.dropPeer(message, 'arrived before init and the early-message buffer is full');
      return;
    }
    if (!this.nodeSet.has(message.src)) {
      this.dropPeer(message, 'not from a cluster node');
      return;
    }
    const parsed = peerBodySchema.safeParse(message.body);
    if (!parsed.success) {
      this.dropPeer(message, `malformed: ${issueText(parsed.error)}`);
      return;
    }
    const { workloads, codec } = this.hosting as Hosting;
    let hosted = this.hosted;
    if (hosted === undefined) {
      const workload = workloads.find((w) => w.name === parsed.data.workload);
      if (workload === undefined) {
        this.dropPeer(message, `unknown workload ${JSON.stringify(parsed.data.workload)}`);
        return;
      }
      hosted = this.fix(workload);
      if (hosted === undefined) {
        this.dropPeer(message, 'its workload cannot start');
        return;
      }
    } else if (hosted.workload.name !== parsed.data.workload) {
      this.dropPeer(message, `for workload ${JSON.stringify(parsed.data.workload)}, but this node runs ${hosted.workload.name}`);
      return;
    }
    try {
      hosted.link.deliver(nodeId(message.src), parsed.data.m);
    } catch (error) {
      if (!(error instanceof codec.CodecError)) throw error;
      this.dropPeer(message, error.message);
    }
  }

  /** Fixes again the workload an earlier incarnation ran, if any and none is fixed yet. */
  private resume(): void {
    const name = this.resuming;
    this.resuming = undefined;
    if (name === undefined || this.hosted !== undefined) return;
    const workload = (this.hosting as Hosting).workloads.find((w) => w.name === name);
    if (workload === undefined) {
      this.log.warn({ workload: name }, 'the store names a workload this node does not host; waiting for a request to fix one');
      return;
    }
    this.fix(workload);
  }

  /** Fixes the workload and starts its protocol; undefined when its options cannot be built. */
  private fix(workload: Workload): Hosted | undefined {
    let options: unknown;
    try {
      options = workload.options({ preset: this.options.preset, ...(this.options.topology === undefined ? {} : { topology: this.options.topology }) });
    } catch (error) {
      this.log.error({ err: error, workload: workload.name, preset: this.options.preset }, 'cannot build the workload options');
      return undefined;
    }
    const self = this.self as NodeId;
    const log = this.log.child({ workload: workload.name });
    const link = new MaelstromPeerLink({
      self,
      workload: workload.name,
      codec: (this.hosting as Hosting).codec,
      write: (message) => {
        this.stats.peerMessagesOut++;
        this.write(message);
      },
      // The protocol's guard is the kernel's (it logs, rate-limited); the node counts the drop with its others.
      onMessage: (from, msg) => {
        if (!host.receive(from, msg)) this.stats.peerMessagesDropped++;
      },
    });
    // Keys are the workload's own under its name, so a data dir once used by another workload never hands it
    // bytes it cannot read.
    const store = this.store as DurableStore;
    const keyPrefix = `${workload.name}/`;
    const host = new WallClockHost<unknown, unknown, ClientRequest>(workload.protocol, {
      send: (to, msg) => void link.send(to, msg),
      output: (value) => this.output(value),
      halt: () => log.warn('the workload protocol halted; its requests are now refused'),
      persist: (key, value) => store.put(keyPrefix + key, value),
      log,
    });
    const restored = new Map<string, Uint8Array>();
    for (const [key, value] of store.loadAll()) if (key.startsWith(keyPrefix)) restored.set(key.slice(keyPrefix.length), value);
    log.info({ preset: this.options.preset, restoredKeys: restored.size }, 'workload fixed; starting its protocol');
    try {
      host.start(self, this.nodes, options, undefined, restored);
    } catch (error) {
      // Not fixed: a host whose init failed would take requests and never answer them.
      host.stop();
      void link.close();
      log.error({ err: error }, 'the workload protocol failed to start');
      return undefined;
    }
    const hosted: Hosted = { workload, host, link };
    this.hosted = hosted;
    // So that a restart with this store runs it again at once (see `resume`).
    store.put(WORKLOAD_KEY, new TextEncoder().encode(workload.name));
    return hosted;
  }

  private output(value: unknown): void {
    if (!isClientReply(value)) {
      this.log.error({ value: String(value) }, 'the workload output something that is not a ClientReply; dropped');
      return;
    }
    const pending = this.pending.get(value.token);
    if (pending === undefined) {
      this.log.warn({ token: value.token, type: value.body.type }, 'a reply for an unknown or already answered request; dropped');
      return;
    }
    this.pending.delete(value.token);
    if (value.body.type === 'error') this.stats.errorsSent++;
    this.send(pending.client, { ...value.body, msg_id: ++this.nextMsgId, in_reply_to: pending.msgId }, undefined);
  }

  private reply(request: Envelope, body: Readonly<Record<string, unknown>> & { readonly type: string }): void {
    this.send(request.src, { ...body, msg_id: ++this.nextMsgId, in_reply_to: request.body.msg_id }, request.dest);
  }

  private replyError(request: Envelope, code: number, text: string): void {
    this.log.warn({ src: request.src, type: request.body.type, code }, text);
    if (request.body.msg_id === undefined) return;
    this.stats.errorsSent++;
    this.reply(request, { type: 'error', code, text });
  }

  /** `srcBeforeInit`: before init we do not know our name, so we answer as whatever the sender called us. */
  private send(dest: string, body: Readonly<Record<string, unknown>>, srcBeforeInit: string | undefined): void {
    this.stats.repliesOut++;
    this.write({ src: this.self ?? srcBeforeInit ?? '', dest, body });
  }

  /** Answers with `malformed-request` when the value has a `src` and a `msg_id`; otherwise logs and skips. */
  private malformed(value: unknown, text: string, line: string | undefined): void {
    this.stats.malformedLines++;
    const src = field(value, 'src');
    const body = field(value, 'body');
    const msgId = field(body, 'msg_id');
    if (typeof src === 'string' && src.length > 0 && typeof msgId === 'number' && Number.isSafeInteger(msgId)) {
      this.log.warn({ src }, text);
      this.stats.errorsSent++;
      const dest = field(value, 'dest');
      this.send(src, { type: 'error', code: MaelstromError.malformedRequest, text, msg_id: ++this.nextMsgId, in_reply_to: msgId }, typeof dest === 'string' ? dest : undefined);
      return;
    }
    this.log.warn({ line: line === undefined ? undefined : line.slice(0, 200) }, `${text}; skipped (nothing to reply to)`);
  }

  private dropPeer(message: Envelope, why: string): void {
    this.stats.peerMessagesDropped++;
    this.log.warn({ src: message.src, dropped: this.stats.peerMessagesDropped }, `dropped a peer message: ${why}`);
  }
}

/**
 * For a line that is not JSON (a `NaN` in a body, say): its sender and msg_id, when the text names exactly one of
 * each, so the sender hears why rather than waiting out its timeout. Shaped as the envelope `malformed` reads.
 */
function sniffSender(line: string): unknown {
  const src = [...line.matchAll(/"src"\s*:\s*"([^"\\]{1,200})"/g)];
  const msgId = [...line.matchAll(/"msg_id"\s*:\s*(\d{1,15})\b/g)];
  if (src.length !== 1 || msgId.length !== 1) return undefined;
  const dest = /"dest"\s*:\s*"([^"\\]{1,200})"/.exec(line);
  return { src: src[0]![1], dest: dest?.[1], body: { msg_id: Number(msgId[0]![1]) } };
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

function isClientReply(value: unknown): value is ClientReply {
  const body = field(value, 'body');
  return typeof field(value, 'token') === 'number' && typeof field(body, 'type') === 'string';
}

/**
 * Runs a node until `io.input` ends; resolves with the exit status (0). `hosting` is injectable for tests; the
 * command loads the registry's workloads when a message first needs them.
 */
export async function runMaelstromNode(
  io: MaelstromNodeIo,
  options: MaelstromNodeOptions,
  hosting: Hosting | (() => Promise<Hosting>) = loadHosting,
): Promise<number> {
  let fail: (error: unknown) => void = () => {};
  const fatal = new Promise<never>((_, reject) => (fail = reject));
  const node = new MaelstromNode(options, hosting, (message) => writeLine(io.output, message), io.log, (error) => fail(error));
  try {
    await Promise.race([readLines(io.input, (line) => node.handleLine(line)), fatal]);
  } finally {
    // Fatal: nothing more is read (the caller reports the error and exits).
    await node.settled();
    node.stop();
  }
  return 0;
}
