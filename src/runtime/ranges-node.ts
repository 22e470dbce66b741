/**
 * `chatterbox ranges serve` as an OS process: one node of key-range ownership (src/ranges/protocol.ts) over the
 * TCP transport, with its replica kept in an embedded SQLite store and a small local HTTP API (ranges-http.ts).
 *
 * Start: the store is opened first (it refuses a data dir of another node or cluster, or one in use), and what
 * it holds is handed to the protocol as `restored`, so a restarted node serves its registrations at once and
 * numbers its new writes after its old ones. Then the transport listens, then the API. Each API request is one
 * `RangesRequest` with a fresh id; the protocol answers it within the same step, and the reply's `persist`
 * effect has reached the disk before the HTTP response is written or any delta is sent.
 *
 * Membership: the node runs key ranges beside SWIM (`rangesMembershipProtocol`, src/ranges/membership.ts) in one
 * host. With a peers file its members start as that list and the transport stays static (membership only
 * reports states, dead ones included); with `join` it starts alone, its transport dynamic, and joins through
 * the seeds (membership-driver.ts): member events then add and remove the transport's peers.
 *
 * Stop: SIGINT/SIGTERM (the `interrupt` signal) stops the protocol (requests still arriving get 503), then
 * closes the API, the transport and the store, in that order, and resolves 0. A failed disk write stops the node at once with 1: an acknowledged write must
 * never be one a crash forgets.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hashString32 } from '../core/prng.js';
import { rangesSyncOptions, type RangesMsg, type RangesReply, type RangesRequest } from '../ranges/protocol.js';
import { rangesMembershipProtocol } from '../ranges/membership.js';
import { DEFAULT_SWIM_OPTIONS, type Member, type MemberEvent } from '../membership/index.js';
import type { WithMembershipMsg, WithMembershipRequest } from '../membership/compose.js';
import type { TcpTransport, PeerAddress, TransportStats } from '../transport/tcp-transport.js';
import { formatHostPort } from '../transport/host-port.js';
import { MembershipDriver, isMemberEvent, joinCluster, leaveGracefully } from './membership-driver.js';
import { dnsSeedResolver, type SeedEntry, type SeedResolver } from './join-seeds.js';
import { DecodeError } from '../crdt/index.js';
import { SqliteStore, StoreError } from './durable-store.js';
import type { Logger } from '../platform/log.js';
import { listenAsNode } from './node-transport.js';
import { startRangesUi, type RangesUi } from './dashboard/ranges-ui.js';
import { WallClockHost } from '../kernel/wall-clock-host.js';
import { answerOps, createNodeOps, type NodeOps } from './ops-http.js';
import {
  MAX_BODY_BYTES,
  errorBody,
  httpError,
  isLoopbackBind,
  isLoopbackHost,
  methodTakesBody,
  replyToHttp,
  routeRangesHttp,
  toJson,
  type HttpError,
} from './ranges-http.js';

export interface RangesNodeConfig {
  readonly self: PeerAddress;
  /** Every node of the cluster, self included, in peers-file order. */
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
  readonly dataDir: string;
  readonly apiHost: string;
  /** 0 picks a free port (see `RangesNode.apiPort`). */
  readonly apiPort: number;
  readonly fanout: number;
  readonly intervalMs: number;
  /** Serve the live page at /ui (`ranges serve --ui`; loopback API hosts only, checked by the CLI). */
  readonly ui?: boolean;
  /** Join through these seeds (`--join`) instead of a static list: `peers` is then just self. */
  readonly join?: readonly SeedEntry[];
  /** "host:port" the other nodes dial this one at (`--advertise`; default self's host:port). */
  readonly advertise?: string;
  /** How `join` entries are resolved (default node:dns). */
  readonly resolver?: SeedResolver;
}

export interface RangesNode {
  /** The API's base URL, e.g. http://127.0.0.1:7000. */
  readonly apiUrl: string;
  readonly apiPort: number;
  /** Resolves with 1 if the node failed on its own (a disk write failed); never rejects. */
  readonly failed: Promise<number>;
  /** Its metrics and readiness (`/metrics`, `/readyz` on the API): membership's driver feeds member events here. */
  readonly ops: NodeOps;
  /** Stops the protocol, then closes the API, the transport and the store. Idempotent. */
  stop(): Promise<void>;
  /** Every member this node has heard of with its last state, sorted by id (for status pages and metrics). */
  members(): readonly Member[];
  /** The transport's counters (connections, frames and bytes in and out, drops, refusals). */
  transportStats(): TransportStats;
}

/** The overlay seed: the same on every node of a cluster, and different between clusters. */
export function rangesSeed(clusterId: string): number {
  return hashString32(`ranges:${clusterId}`);
}

/** Starts a node; rejects (having closed whatever it opened) when the store, a port or the transport fails. */
export async function startRangesNode(config: RangesNodeConfig, log: Logger): Promise<RangesNode> {
  const startedAtMs = performance.timeOrigin;
  // Ready once the store is open, the transport listens, the protocol has started and, with --join, the node has
  // joined or found itself alone among its seeds (ops-http.ts).
  const ops = createNodeOps({
    protocol: rangesMembershipProtocol.name,
    self: config.self.id,
    nodes: config.peers.map((p) => p.id),
    conditions: ['store', 'transport', 'protocol', ...(config.join === undefined ? [] : ['joined'])],
  });
  // Opened first: a data dir of another node, or one in use, must fail before the node shows up on the network.
  const store = SqliteStore.open(config.dataDir, { nodeId: config.self.id, clusterId: config.clusterId });
  ops.readiness.mark('store');
  type Msg = WithMembershipMsg<RangesMsg>;
  type Req = WithMembershipRequest<RangesRequest>;
  let host: WallClockHost<Msg, RangesReply | MemberEvent, Req> | undefined;
  const dynamic = config.join !== undefined;
  const advertise = config.advertise ?? formatHostPort(config.self.host, config.self.port);
  const leaving = new AbortController();
  let driver: MembershipDriver | undefined;
  let transport: TcpTransport | undefined;
  let server: Server | undefined;
  let ui: RangesUi | undefined;
  let stopping: Promise<void> | undefined;
  // Whether 'ranges node started' was logged: a node that failed to start ends with its one error, not a 'stopped' line.
  let started = false;
  let fail: (code: number) => void = () => {};
  const failed = new Promise<number>((resolve) => (fail = resolve));

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ops.readiness.stopping();
      // Before the protocol stops: the final picture is drawn from the node's answers.
      ui?.finish(0, 'the node stopped; this is its last picture');
      // Ended, not cut: the final snapshot reaches open pages before the server drops their connections.
      ui?.close();
      const metrics = host?.metrics();
      leaving.abort();
      host?.stop();
      if (server !== undefined) {
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      }
      await transport?.close();
      store.close();
      if (metrics !== undefined && started) log.info({ ...metrics }, 'ranges node stopped');
    })();
    return stopping;
  };

  try {
    const restored = store.loadAll();
    transport = await listenAsNode(dynamic ? { ...config, peers: [config.self] } : config, {
      // A restarted node comes back with its store; delta-sync sees its new incarnation and resends it everything.
      rejectRestartedPeers: false,
      log,
      onMessage: (from, msg) => host?.receive(from, msg as Msg),
      onPeerUp: () => driver?.changed(),
      onFrame: ops.metrics.frameObserver,
      ...(dynamic ? { dynamic: true, advertise } : {}),
    });
    ops.readiness.mark('transport');
    const members = new MembershipDriver(transport, dynamic, log);
    driver = members;

    const waiting = new Map<number, (reply: RangesReply) => void>();
    const liveHost = new WallClockHost<Msg, RangesReply | MemberEvent, Req>(rangesMembershipProtocol, {
      send: (to, msg) => transport!.send(to, msg),
      output: (value) => {
        if (!isMemberEvent(value)) return waiting.get(value.id)?.(value);
        ops.metrics.observeMemberEvent(value);
        members.onEvent(value);
      },
      halt: () => fail(0),
      persist: (key, value) => {
        try {
          ops.metrics.timeStoreWrite(() => store.put(key, value));
        } catch (error) {
          // Nothing after this write may happen: stop the protocol before its flush timer can ship the delta.
          liveHost.stop();
          log.fatal({ err: error, key }, 'a write to the store failed; stopping');
          fail(1);
          throw error;
        }
      },
      log,
    });
    host = liveHost;
    const options = {
      swim: { ...DEFAULT_SWIM_OPTIONS, address: advertise },
      inner: rangesSyncOptions({ fanout: config.fanout, intervalMs: config.intervalMs, seed: rangesSeed(config.clusterId) }),
    };
    try {
      liveHost.start(config.self.id, dynamic ? [config.self.id] : config.peers.map((p) => p.id), options, startedAtMs, restored);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      // The saved replica is not a state this version reads (another version's shape, or a damaged file).
      // Starting empty would silently drop this node's registrations: refuse, and say how to start over.
      throw new StoreError(
        'unusable',
        `the state saved in ${store.path} cannot be read by this version of chatterbox (${error.message}); move the data dir away to start this node empty (it relearns the other nodes' registrations from its peers, but must register its own again)`,
        { cause: error },
      );
    }
    ops.metrics.setSnapshotSource(() => liveHost.metrics());
    ops.readiness.mark('protocol');

    let nextId = 1;
    const call = (request: RangesRequest): RangesReply | HttpError => {
      if (liveHost.isHalted) return httpError('unavailable', 'the node is stopping');
      let reply: RangesReply | undefined;
      waiting.set(request.id, (r) => (reply = r));
      try {
        liveHost.request(request);
      } catch (error) {
        log.error({ err: error, op: request.op }, 'request failed');
        return httpError('internal', 'the node failed to carry out the request; see its log');
      } finally {
        waiting.delete(request.id);
      }
      return reply ?? httpError('unavailable', 'the node is stopping');
    };
    const nodeInfo = (): unknown => ({
      id: config.self.id,
      clusterId: config.clusterId,
      address: advertise,
      // The live members (alive or suspect) as this node sees them; the peers file's nodes until membership says more.
      nodes: members.members().length === 0 ? config.peers.map((p) => p.id) : members.members().filter((m) => m.state === 'alive' || m.state === 'suspect').map((m) => m.id),
    });
    const guardHost = isLoopbackBind(config.apiHost);
    if (config.ui === true) {
      ui = startRangesUi({
        self: config.self.id,
        clusterId: config.clusterId,
        listed: config.peers.map((p) => p.id),
        clusterMembers: () => {
          const known = members.members();
          return known.length === 0 ? undefined : known.map((m) => ({ node: m.id, state: m.state }));
        },
        call: (request) => {
          const reply = call({ ...request, id: nextId++ } as RangesRequest);
          return 'status' in reply || !reply.ok ? { ok: false } : { ok: true, result: reply.result };
        },
        transportStats: () => transport!.stats(),
      });
    }

    server = createServer((req, res) => {
      void handle(req, res).catch((error: unknown) => {
        log.error({ err: error }, 'API request failed');
        if (!res.headersSent) send(res, 500, errorBody(httpError('internal', 'internal error')));
        else res.destroy();
      });
    });
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const began = performance.now();
      const method = req.method ?? 'GET';
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        send(res, status, body, headers);
        log.debug({ method, url: req.url, status, ms: Math.round((performance.now() - began) * 10) / 10 }, 'api');
      };
      const refuse = (error: HttpError): void => answer(error.status, errorBody(error), error.allow === undefined ? {} : { allow: error.allow.join(', ') });
      if (ui?.handle(req, res) === true) return;
      if (guardHost && !isLoopbackHost(req.headers.host)) {
        refuse(httpError('forbidden', 'this API listens on loopback and answers only requests addressed to localhost or a loopback address'));
        req.resume();
        return;
      }
      // /metrics, /healthz, /readyz (ops-http.ts), before the API's own routes.
      if (await answerOps(ops, req, res)) return void req.resume();
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_BODY_BYTES) {
        res.setHeader('connection', 'close');
        refuse(httpError('payload-too-large', `the body is ${declared} bytes; at most ${MAX_BODY_BYTES} are accepted`));
        req.resume();
        return;
      }
      let body = '';
      if (methodTakesBody(method)) {
        const read = await readBody(req);
        if (read === 'aborted') return void res.destroy();
        if (read === 'too-large') {
          res.setHeader('connection', 'close');
          refuse(httpError('payload-too-large', `the body is over ${MAX_BODY_BYTES} bytes`));
          return;
        }
        body = read;
      } else {
        req.resume();
      }
      const routed = routeRangesHttp({ method, url: req.url ?? '/', contentType: req.headers['content-type'], body });
      if (!routed.ok) return refuse(routed.error);
      if (routed.call === 'node') return answer(200, { result: nodeInfo() });
      if (routed.call === 'leave') {
        if (liveHost.isHalted) return refuse(httpError('unavailable', 'the node is stopping'));
        const left = await leaveGracefully(() => liveHost.request({ membership: { op: 'leave' } }), members, leaving.signal);
        // Stop once the answer is out: the server's close would cut it off.
        res.once('finish', () => fail(0));
        return answer(200, { result: { left } });
      }
      const reply = call({ ...routed.call, id: nextId++ } as RangesRequest);
      if ('status' in reply) return refuse(reply);
      const { status, body: out } = replyToHttp(reply);
      answer(status, out);
    };
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen({ host: config.apiHost, port: config.apiPort }, () => {
        server!.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => log.error({ err: error }, 'API server error'));
  } catch (error) {
    await stop();
    throw error;
  }

  const address = server.address();
  const apiPort = typeof address === 'object' && address !== null ? address.port : config.apiPort;
  const apiUrl = `http://${formatHostPort(config.apiHost, apiPort)}`;
  started = true;
  log.info(
    {
      api: apiUrl,
      ...(ui === undefined ? {} : { ui: `${apiUrl}/ui` }),
      port: config.self.port,
      ...(dynamic ? { join: config.join?.length, advertise } : { peers: config.peers.length }),
      dataDir: store.path,
      restored: !store.created,
      fanout: config.fanout,
      intervalMs: config.intervalMs,
    },
    'ranges node started',
  );
  driver!.started();
  if (config.join !== undefined) {
    const join = config.join;
    const resolver = config.resolver ?? (await dnsSeedResolver());
    // In the background: the API serves (this node's own replica) while the node looks for its seeds.
    void joinCluster(join, {
      driver: driver!,
      transport: transport!,
      resolver,
      requestJoin: (seeds) => host?.request({ membership: { op: 'join', seeds } }),
      log,
      stop: leaving.signal,
    })
      .then((outcome) => {
        if (outcome !== 'stopped') ops.readiness.mark('joined');
      })
      .catch((error: unknown) => {
        log.fatal({ err: error }, 'joining the cluster failed');
        fail(1);
      });
  }
  const liveTransport = transport!;
  const memberList = driver!;
  return { apiUrl, apiPort, failed, ops, stop, members: () => memberList.members(), transportStats: () => liveTransport.stats() };
}

/** The body as text; 'too-large' once it passes MAX_BODY_BYTES (the rest is not kept); 'aborted' if the client left. */
function readBody(req: IncomingMessage): Promise<string | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks).toString('utf8')));
    // A promise settles once: after 'end' or 'too-large' these change nothing.
    req.on('close', () => resolve('aborted'));
    req.on('error', () => resolve('aborted'));
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${toJson(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export interface RangesNodeIo {
  readonly log: Logger;
  /** Aborted on SIGINT/SIGTERM: the node stops and resolves 0. */
  readonly interrupt?: AbortSignal;
}

/** Runs a node until it is interrupted (0) or fails (1). Rejects when it cannot start (see startRangesNode). */
export async function runRangesNode(config: RangesNodeConfig, io: RangesNodeIo): Promise<number> {
  const node = await startRangesNode(config, io.log);
  let onInterrupt: () => void = () => {};
  const interrupted = new Promise<number>((resolve) => {
    onInterrupt = () => resolve(0);
    if (io.interrupt?.aborted === true) resolve(0);
    io.interrupt?.addEventListener('abort', onInterrupt, { once: true });
  });
  const code = await Promise.race([interrupted, node.failed]);
  io.interrupt?.removeEventListener('abort', onInterrupt);
  io.log.info({ code }, code === 0 ? 'stopping' : 'stopping after a failure');
  await node.stop();
  return code;
}
