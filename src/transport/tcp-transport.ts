/**
 * TCP transport between cluster nodes: the I/O half for protocols that only say "send this to that node".
 *
 * Theory of operation (in the manner of memberlist's transport.go):
 *
 * Each pair of nodes shares exactly one TCP connection. The node whose id sorts lower (plain string order)
 * dials; the other only accepts. So two nodes never race to open two connections, and there is no tie to
 * break. A dialer that loses its connection, or cannot make one, dials again after an exponential backoff with
 * jitter (RECONNECT_INITIAL_DELAY_MS doubling up to RECONNECT_MAX_DELAY_MS), forever, until the transport is
 * closed. An acceptor that gets a new connection from a peer it thinks is still connected takes the new one: the
 * peer dialed again, so the old one is dead to it.
 *
 * Wake-ups. Backoff alone would leave a dialer waiting up to RECONNECT_MAX_DELAY_MS after its peer comes up (or
 * resumes from a pause). So the higher id, whenever it has no connection to a lower-id peer (from the start, and
 * again after losing one), opens a connection to that peer and sends only its hello: a wake-up. The lower id's
 * handshake reads a hello from a higher id on the acceptor side as exactly that (secure-channel.ts); it closes
 * the connection quietly and, unless it is connected or already dialing, dials now instead of waiting out its
 * backoff. A hello is unauthenticated even with a key, so a wake-up brings a dial forward at most once per
 * MIN_WOKEN_DIAL_INTERVAL_MS per peer: forged ones cost the node one dial per interval at most. The higher id
 * keeps one wake-up in flight per peer and repeats it with the same backoff while it stays unconnected. A
 * connection the kernel accepted while its node was paused (SIGSTOP) is simply read when the node resumes: the
 * dialer's hello waits in it, and the handshake completes unless HANDSHAKE_TIMEOUT_MS passed meanwhile, in which
 * case the wake-up path above reconnects the pair.
 *
 * Every connection starts with a handshake (secure-channel.ts) that names the cluster, both node ids and
 * their incarnations, and, with a cluster key, authenticates both sides and encrypts everything after it.
 * Only then is the peer "up" (onPeerUp) and do messages flow, each in one length-prefixed frame
 * (framing.ts) holding one MessagePack-encoded message (codec.ts).
 *
 * Delivery guarantee (above the floor every `Transport` keeps, transport.ts): messages sent over one connection arrive in the order sent, each at most once, and
 * none is altered (with a key, cryptographically). Nothing more. `send` drops a message, and says so by
 * returning false, when the peer is not connected or when more than maxQueuedBytesPerPeer bytes are already
 * waiting for the socket; messages already written can still be lost when a connection breaks, and a new
 * connection does not resend them. Protocols therefore treat the network as lossy and retransmit, and they
 * must not assume that a message sent before a reconnection arrives before one sent after it.
 * Nothing is sent to self: the node kernel feeds self-addressed messages back itself (protocol/types.ts, rule 3).
 *
 * Hostile or broken input is contained to its connection: an oversized frame, a frame that fails to decrypt or
 * decode, or a failed handshake destroys that socket and is counted; other connections and the node carry on.
 * Each such event is a warn line (peer, remote address, reason), but through RateLimitedWarnings: past a burst
 * per interval they are only counted and summed up in one line, so a flood cannot flood the log too. A message
 * that decodes is handed on as it is: whether the protocol takes it is the node kernel's guard, which drops that
 * one message and keeps the connection (protocol/types.ts, rule 5).
 *
 * Unauthenticated inbound connections are bounded so that, however many a hostile party opens, a listed peer
 * still gets in (nginx's and memberlist's connection limits, with eviction instead of refusal):
 * - in size: frames of at most HANDSHAKE_MAX_FRAME_BYTES, so none makes the node buffer much;
 * - in time: a valid hello within HELLO_TIMEOUT_MS of the accept (a real dialer sends it the moment it
 *   connects), the whole handshake within HANDSHAKE_TIMEOUT_MS;
 * - in number: at most MAX_PENDING_HANDSHAKES; a connection arriving at the bound evicts one, it is not
 *   refused. Refusing newcomers lets idle connections that came first hold every slot while the real peer is
 *   turned away. Evicting the oldest instead means a flood only churns through its own connections: a real
 *   peer's hello arrives within milliseconds of its connect, so it is read (libuv accepts one connection per
 *   turn of the event loop, and reads ready sockets in every turn) long before MAX_PENDING_HANDSHAKES newer
 *   connections could make it the oldest. Eviction takes connections without a valid hello first, and those
 *   under way only when no silent one is left; within a tier, the oldest of the source address holding the
 *   most (pending-handshakes.ts), so on a real network a flood from one address evicts only its own. On
 *   loopback everyone is 127.0.0.1 and age alone decides, which is what saves the peer there.
 *   What no listener can help: a flood that keeps the kernel's accept queue full (Node's listen backlog, 511)
 *   makes the kernel drop connection attempts, and TCP retries them only after 1 s, then 3 s; a peer's
 *   connection queued behind hundreds of the flood's waits its turn to be accepted.
 *
 * Dynamic mode (`dynamic: true`, for clusters whose members come and go: membership/, runtime/membership-driver.ts). The peer
 * table starts with the configured peers and then follows the caller: `addPeer` dials a member as it appears
 * (or wakes it, by the same id order), `removePeer` closes and forgets one declared dead or gone. A node not in
 * the table may still connect, authenticated by the cluster key as any peer is, since a joining node is known
 * to nobody yet: every hello then carries `listen`, the "host:port" its sender is dialed at (secure-channel.ts),
 * so a wake-up from an unknown higher id can be answered with a dial. Such a peer gets a provisional slot that
 * lives only as long as its connection or its one dial; the caller makes it permanent with `addPeer` (when
 * membership reports it alive). Provisional slots are at most MAX_PROVISIONAL_PEERS, all slots at most
 * MAX_PEERS: past either bound a newcomer is refused, so forged hellos cannot grow the table. `identify(host,
 * port)` turns a seed's address into its node id: it dials with a handshake that takes any id, and either the
 * connection becomes the pair's one connection (we are the lower id: we dial this pair anyway) or, when the seed
 * is the lower id, its hello names it and our hello has woken it to dial us (that id is unauthenticated even with
 * a key; a wrong one only makes the handshakes that follow fail). One connection per pair still holds, and the
 * static behaviour (`dynamic` unset) is exactly what it was: hellos carry no `listen`, unknown ids are refused.
 *
 * Writes are coalesced: the first frame written to a socket in a tick corks it and a nextTick uncorks it, so
 * a burst of small sends becomes one writev. Nagle is off (setNoDelay) because we do our own batching.
 * Callbacks (onMessage, onPeerUp, onPeerDown) run synchronously from socket events; an exception thrown by
 * one is a bug in the caller and propagates. After close() starts no callback runs.
 */
import { randomInt } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { assert } from '../core/assert.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { CodecError, decodeMessage, encodeMessage } from './codec.js';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder, FrameError, MAX_FRAME_BYTES_LIMIT, encodeFrame, frameHeader } from './framing.js';
import { helloTextProblem } from './hello-text.js';
import { formatHostPort, parseHostPort } from './host-port.js';
import { PendingHandshakes } from './pending-handshakes.js';
import { RateLimitedWarnings } from './rate-limited-warnings.js';
import type { Transport, TransportHandlers } from './transport.js';
import {
  AuthError,
  HANDSHAKE_MAX_FRAME_BYTES,
  HANDSHAKE_TIMEOUT_MS,
  Handshake,
  HandshakeError,
  MIN_CLUSTER_KEY_BYTES,
  type Established,
  type FrameCipher,
  type Role,
} from './secure-channel.js';

/** Where a node of the cluster listens. */
export interface PeerAddress {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_MAX_QUEUED_BYTES_PER_PEER = 64 * 1024 * 1024;
/** Backoff of dials (and of wake-ups): the first retry waits about this long, each failure doubles it. */
export const RECONNECT_INITIAL_DELAY_MS = 50;
/** ...up to this. */
export const RECONNECT_MAX_DELAY_MS = 2_000;
/** close() waits this long for queued frames to drain before it destroys the sockets. */
export const CLOSE_FLUSH_TIMEOUT_MS = 2_000;
/** TCP keepalive, so an idle connection to a vanished host is noticed eventually. */
export const KEEPALIVE_INITIAL_DELAY_MS = 10_000;
/**
 * Inbound connections in their handshake at most: one arriving at the bound evicts one (see the top of the
 * file). Pending handshakes are small (a socket, a 4 KiB frame cap), so this is about file descriptors.
 */
export const MAX_PENDING_HANDSHAKES = 64;
/** An inbound connection must deliver a valid hello this soon after it is accepted (when shorter than the handshake timeout). */
export const HELLO_TIMEOUT_MS = 1_000;
/** Per peer, a wake-up brings a dial forward at most once in this many milliseconds (wake-ups can be forged). */
export const MIN_WOKEN_DIAL_INTERVAL_MS = 100;
/** Peers in the table at most, self excluded: the bound of a peers file (platform/peers-file.ts, MAX_PEERS). */
export const MAX_PEERS = 1024;
/** Dynamic mode: peers that connected or woke us before `addPeer` named them, at most at once (see the top). */
export const MAX_PROVISIONAL_PEERS = 64;

export interface TcpTransportOptions extends TransportHandlers {
  readonly self: PeerAddress;
  /** All nodes, self included. */
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  /** Names this run of the process; peers see it in the handshake. */
  readonly incarnation: string;
  /** Shared secret of at least MIN_CLUSTER_KEY_BYTES bytes: authenticate and encrypt every connection. */
  readonly clusterKey?: Buffer;
  /** Cap on one frame's payload, both ways (default DEFAULT_MAX_FRAME_BYTES, 4 MiB). */
  readonly maxFrameBytes?: number;
  /** Above this many bytes waiting for one peer's socket, sends to it are dropped and counted (default 64 MiB). */
  readonly maxQueuedBytesPerPeer?: number;
  /** Default HANDSHAKE_TIMEOUT_MS; for a dialer it covers the TCP connect too. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Milliseconds to wait before the next dial, or the next wake-up, after `failures` consecutive failed ones.
   * Default: exponential backoff with jitter from RECONNECT_INITIAL_DELAY_MS to RECONNECT_MAX_DELAY_MS. Tests
   * use it to hold a dialer in a long backoff without waiting for one.
   */
  readonly reconnectDelayMs?: (failures: number) => number;
  /** Default MIN_WOKEN_DIAL_INTERVAL_MS. */
  readonly minWokenDialIntervalMs?: number;
  /** The first incarnation seen per peer is remembered; a different one later is refused when true (default false). */
  readonly rejectRestartedPeers?: boolean;
  readonly log: Logger;
  readonly onPeerUp?: (id: NodeId, incarnation: string) => void;
  readonly onPeerDown?: (id: NodeId) => void;
  /** Peers come and go (`addPeer`, `removePeer`, `identify`); nodes not in `peers` may connect. Default false. */
  readonly dynamic?: boolean;
  /** Dynamic mode: the "host:port" this node is dialed at, sent in its hello (default self.host:self.port). */
  readonly advertise?: string;
}

export interface TransportStats {
  /** Messages received and delivered, and messages written (handshake frames excluded). */
  framesIn: number;
  framesOut: number;
  /** Bytes read from and written to sockets, handshakes and headers included. */
  bytesIn: number;
  bytesOut: number;
  /** Sends not carried out: peer not connected, queue over its cap, or message over the frame cap. */
  dropped: number;
  /** Connections refused during the handshake (wrong cluster, key, id; hello or handshake timeout). */
  refused: number;
  /** Inbound connections closed in their handshake to make room for a newer one (MAX_PENDING_HANDSHAKES). */
  evicted: number;
  /** Established connections closed for bad input (oversized, undecryptable, undecodable). */
  malformed: number;
  /** Handshakes completed. */
  established: number;
  /** Wake-ups received from higher ids (each brings a dial forward, rate permitting). */
  wakeUps: number;
}

type Failure = 'refused' | 'malformed';
/** What RateLimitedWarnings counts connection problems by. */
type ProblemKind = 'refused' | 'timedOut' | 'evicted' | 'malformed';

class Connection {
  readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  /** The peer's id: known from the start for a dialer, once established for an acceptor. */
  peer: NodeId | undefined;
  cipher: FrameCipher | undefined;
  open = false;
  /** Failed or closing: no more frames are processed and no more lines are logged for it. */
  dead = false;
  corked = false;
  /** The handshake deadline, and for an acceptor the earlier deadline of the peer's hello. */
  timer: NodeJS.Timeout | undefined;
  helloTimer: NodeJS.Timeout | undefined;
  error: Error | undefined;
  /** An `identify` dial: whom it reached is settled through this (once). */
  identify: Identify | undefined;
  readonly closed: Promise<void>;
  markClosed!: () => void;

  constructor(
    readonly socket: Socket,
    readonly role: Role,
    readonly handshake: Handshake,
    readonly remote: string,
    peer: NodeId | undefined,
  ) {
    this.peer = peer;
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  /** For log lines: the peer's id as soon as anything vouches for it. */
  get peerForLog(): string | undefined {
    return this.peer ?? this.handshake.peer;
  }
}

interface Identify {
  readonly host: string;
  readonly port: number;
  resolve(id: NodeId): void;
  reject(error: Error): void;
}

interface PeerSlot {
  /** Port 0: not known yet (a provisional peer that connected without a `listen` address). */
  address: PeerAddress;
  /** Configured or `addPeer`ed; false for a provisional peer (dynamic mode, see the top of the file). */
  added: boolean;
  /** Set when `removePeer` dropped it: callbacks still holding it do nothing more. */
  removed: boolean;
  /** Self sorts lower, so self dials this peer; otherwise self sends it wake-ups. */
  readonly dialed: boolean;
  /** The established connection, if any. */
  conn: Connection | null;
  /** The dialed connection from dial to close (dialed peers only). */
  outbound: Connection | null;
  retryTimer: NodeJS.Timeout | undefined;
  /** When retryTimer fires (performance.now() time), Infinity without one. */
  retryDueAtMs: number;
  /** Consecutive dials that did not end in an established connection. */
  failures: number;
  /** When a wake-up last brought a dial forward (dialed peers only). */
  lastWokenDialAtMs: number;
  /** Our wake-up connection in flight, the timer of the next one, and how many in a row found us unconnected. */
  wakeUp: Socket | null;
  wakeUpTimer: NodeJS.Timeout | undefined;
  wakeUpFailures: number;
  firstIncarnation: string | undefined;
}

interface EncodedMessage {
  readonly msg: unknown;
  readonly bytes: Uint8Array;
  /** Header + bytes, built on first plaintext send. */
  framed: Buffer | undefined;
}

interface ResolvedOptions extends TcpTransportOptions {
  readonly maxFrameBytes: number;
  readonly maxQueuedBytesPerPeer: number;
  readonly handshakeTimeoutMs: number;
  readonly reconnectDelayMs: (failures: number) => number;
  readonly minWokenDialIntervalMs: number;
  readonly rejectRestartedPeers: boolean;
  readonly dynamic: boolean;
  readonly advertise: string | undefined;
}

/** Dynamic mode's node set for the handshake: any id may connect (the slot bounds apply in the transport). */
const ANY_NODE: Pick<ReadonlySet<string>, 'has'> = { has: () => true };

/** The `Transport` between processes (transport.ts states the floor; the top of this file what TCP adds). */
export class TcpTransport implements Transport {
  private readonly options: ResolvedOptions;
  private readonly nodes: Pick<ReadonlySet<string>, 'has'>;
  private readonly peers = new Map<NodeId, PeerSlot>();
  private readonly connections = new Set<Connection>();
  private readonly pending = new PendingHandshakes<Connection>();
  private readonly warnings: RateLimitedWarnings<ProblemKind>;
  private readonly server: Server;
  private readonly counters: TransportStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: 0,
    refused: 0,
    evicted: 0,
    malformed: 0,
    established: 0,
    wakeUps: 0,
  };
  private closing = false;
  private closed: Promise<void> | undefined;
  /** The last message encoded, so a broadcast in one tick encodes once. Cleared on the next tick. */
  private lastEncoded: EncodedMessage | undefined;

  private constructor(options: TcpTransportOptions) {
    this.options = resolveOptions(options);
    this.nodes = this.options.dynamic ? ANY_NODE : new Set(options.peers.map((peer) => peer.id));
    this.warnings = new RateLimitedWarnings(options.log, 'more connection problems, counted but not logged one by one');
    const self = options.self.id;
    for (const address of options.peers) {
      if (address.id === self) continue;
      this.peers.set(address.id, this.newSlot(address, true));
    }
    this.server = createServer((socket) => this.onInbound(socket));
  }

  /**
   * Binds self.host:self.port, then dials the higher ids and sends wake-ups to the lower ones. Rejects with an
   * Error naming host:port if binding fails.
   */
  static async listen(options: TcpTransportOptions): Promise<TcpTransport> {
    const transport = new TcpTransport(options);
    await transport.bind();
    for (const slot of transport.peers.values()) {
      if (slot.dialed) transport.dial(slot);
      else transport.sendWakeUp(slot);
    }
    return transport;
  }

  /**
   * Encodes `msg` and queues it on the peer's connection. False (and counted) when dropped: not connected, too
   * much already queued, or larger than the frame cap. The same message object sent to several peers in one
   * tick is encoded once, so a message must not be mutated after it is sent.
   */
  send(to: NodeId, msg: unknown): boolean {
    const conn = this.peers.get(to)?.conn;
    if (this.closing || conn == null || conn.dead || conn.cipher === undefined) return this.drop();
    const encoded = this.encode(msg);
    const cipher = conn.cipher;
    const payloadBytes = encoded.bytes.length + cipher.overheadBytes;
    if (payloadBytes > this.options.maxFrameBytes) {
      this.options.log.warn({ peer: to, bytes: payloadBytes, cap: this.options.maxFrameBytes }, 'message dropped: larger than the frame cap');
      return this.drop();
    }
    if (conn.socket.writableLength + FRAME_HEADER_BYTES + payloadBytes > this.options.maxQueuedBytesPerPeer) return this.drop();
    if (cipher.encrypted) {
      this.writeFrame(conn, cipher.seal(encoded.bytes));
    } else {
      encoded.framed ??= encodeFrame(encoded.bytes);
      this.writeFramed(conn, encoded.framed);
    }
    this.counters.framesOut++;
    return true;
  }

  get self(): NodeId {
    return this.options.self.id;
  }

  // --- Dynamic mode (see the top of the file) ----------------------------------------------------------------

  /**
   * Keeps a connection to `address.id` from now on: dials it (lower id) or wakes it (higher id) unless already
   * connected, and reconnects as for a configured peer. A known peer's address is updated. False (and a warn
   * line) when refused: self, a bad port or id, the table at MAX_PEERS, or the transport closing.
   */
  addPeer(address: PeerAddress): boolean {
    assert(this.options.dynamic, 'addPeer needs a transport in dynamic mode');
    if (this.closing || address.id === this.self) return false;
    const problem = !Number.isInteger(address.port) || address.port < 1 || address.port > 65_535 ? `bad port ${address.port}` : helloTextProblem(address.id);
    if (problem !== undefined) {
      this.options.log.warn({ peer: address.id, reason: problem }, 'peer not added');
      return false;
    }
    let slot = this.peers.get(address.id);
    if (slot === undefined) {
      if (this.peers.size >= MAX_PEERS) {
        this.options.log.warn({ peer: address.id, reason: `${MAX_PEERS} peers already` }, 'peer not added');
        return false;
      }
      slot = this.newSlot(address, true);
      this.peers.set(address.id, slot);
      this.options.log.info({ peer: address.id, remote: formatHostPort(address.host, address.port) }, 'peer added');
    } else {
      slot.added = true;
      slot.address = address;
    }
    if (slot.conn === null) {
      if (slot.dialed) this.dial(slot);
      else this.sendWakeUp(slot);
    }
    return true;
  }

  /**
   * Closes the connection to `id` and forgets it (no more dials or wake-ups); a peer-down event follows if it was
   * connected. False when it was not in the table. It may connect again later, as any unknown node may.
   */
  removePeer(id: NodeId): boolean {
    assert(this.options.dynamic, 'removePeer needs a transport in dynamic mode');
    const slot = this.peers.get(id);
    if (slot === undefined) return false;
    const wasUp = slot.conn !== null;
    this.forget(slot);
    this.options.log.info({ peer: id }, 'peer removed');
    if (wasUp && !this.closing) this.options.onPeerDown?.(id);
    return true;
  }

  /**
   * Dials host:port and resolves with the node id found there (this node's own id when the address is its own):
   * how a seed's address becomes a member to join through. Rejects when no node of this cluster answers the
   * handshake (refused, timed out, another cluster id, a key on one side only, or another key at a higher id: a
   * lower id is named by its hello alone). See the top of the file for what becomes of the connection.
   */
  identify(host: string, port: number): Promise<NodeId> {
    assert(this.options.dynamic, 'identify needs a transport in dynamic mode');
    if (this.closing) return Promise.reject(new Error('the transport is closed'));
    return new Promise((resolve, reject) => {
      const conn = this.attach(connect({ host, port }), 'dialer', formatHostPort(host, port), undefined);
      conn.identify = { host, port, resolve, reject };
    });
  }

  /** Ids in the table (configured, added or provisional), sorted: for tests and status pages. */
  knownPeers(): NodeId[] {
    return [...this.peers.keys()].sort(compareNodeIds);
  }

  /** Peers with an established connection, sorted. */
  connectedPeers(): NodeId[] {
    const up: NodeId[] = [];
    for (const [id, slot] of this.peers) if (slot.conn !== null) up.push(id);
    return up.sort();
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  /**
   * Stops dialing and accepting, ends every connection after what is queued on it (waiting at most
   * CLOSE_FLUSH_TIMEOUT_MS, then destroying), and closes the server. No callback runs once it has started.
   */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    const wakeUpsClosed: Promise<unknown>[] = [];
    for (const slot of this.peers.values()) {
      this.cancelRetry(slot);
      clearTimeout(slot.wakeUpTimer);
      slot.wakeUpTimer = undefined;
      if (slot.wakeUp !== null && !slot.wakeUp.closed) {
        wakeUpsClosed.push(new Promise((resolve) => slot.wakeUp?.once('close', resolve)));
        slot.wakeUp.destroy();
      }
    }
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const connections = [...this.connections];
    for (const conn of connections) {
      if (conn.open && !conn.dead) {
        conn.dead = true;
        conn.socket.end();
      } else {
        conn.dead = true;
        conn.socket.destroy();
      }
    }
    const allClosed = Promise.all(connections.map((conn) => conn.closed));
    if (!(await settlesWithin(allClosed, CLOSE_FLUSH_TIMEOUT_MS))) {
      for (const conn of connections) conn.socket.destroy();
    }
    await allClosed;
    await Promise.all(wakeUpsClosed);
    await serverClosed;
    this.warnings.flush();
  }

  private bind(): Promise<void> {
    const { host, port } = this.options.self;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new Error(`cannot listen on ${hostPort(host, port)}: ${err.message}`, { cause: err }));
      };
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.options.log.error({ err }, 'transport server error'));
        resolve();
      });
    });
  }

  // --- Dialing and wake-ups ----------------------------------------------------------------------------------

  private dial(slot: PeerSlot): void {
    if (this.closing || slot.removed || slot.outbound !== null || slot.address.port === 0) return;
    const { id, host, port } = slot.address;
    slot.outbound = this.attach(connect({ host, port }), 'dialer', hostPort(host, port), id);
  }

  private scheduleDial(slot: PeerSlot): void {
    if (this.closing || slot.removed || slot.retryTimer !== undefined || slot.outbound !== null) return;
    this.setRetry(slot, this.options.reconnectDelayMs(slot.failures++));
  }

  private setRetry(slot: PeerSlot, delayMs: number): void {
    slot.retryDueAtMs = performance.now() + delayMs;
    slot.retryTimer = setTimeout(() => {
      slot.retryTimer = undefined;
      slot.retryDueAtMs = Number.POSITIVE_INFINITY;
      this.dial(slot);
    }, delayMs);
  }

  private cancelRetry(slot: PeerSlot): void {
    clearTimeout(slot.retryTimer);
    slot.retryTimer = undefined;
    slot.retryDueAtMs = Number.POSITIVE_INFINITY;
  }

  /** A higher id said hello on our acceptor side: it is up and unconnected, so dial it now if we may. */
  private onWakeUp(conn: Connection, peer: NodeId): void {
    this.counters.wakeUps++;
    conn.dead = true; // not a failure: the connection has done its job
    this.releasePending(conn);
    conn.socket.destroy();
    let slot = this.peers.get(peer);
    if (this.options.dynamic) {
      const listen = parseHostPort(conn.handshake.peerListen ?? '');
      if (slot === undefined) {
        if (listen === undefined) return void this.options.log.debug({ peer, remote: conn.remote }, 'wake-up from an unknown peer without an address');
        const refusal = this.provisionalRefusal();
        if (refusal !== undefined) return void this.warnings.warn('refused', { peer, remote: conn.remote, reason: refusal }, 'wake-up ignored');
        slot = this.newSlot({ id: peer, ...listen }, false);
        this.peers.set(peer, slot);
      } else if (slot.address.port === 0 && listen !== undefined) {
        slot.address = { id: peer, ...listen };
      }
    }
    assert(slot?.dialed === true, 'the handshake took a wake-up from a node this one does not dial');
    this.options.log.debug({ peer, remote: conn.remote, action: this.bringDialForward(slot) }, 'wake-up from peer');
  }

  private bringDialForward(slot: PeerSlot): 'connected' | 'dialing' | 'dialed' | 'rate-limited' {
    if (slot.conn !== null) return 'connected';
    if (slot.outbound !== null) return 'dialing';
    const now = performance.now();
    const earliest = slot.lastWokenDialAtMs + this.options.minWokenDialIntervalMs;
    if (now >= earliest) {
      this.cancelRetry(slot);
      slot.lastWokenDialAtMs = now;
      this.dial(slot);
      return 'dialed';
    }
    // Too soon after the last woken dial: make sure the next dial is no later than the first moment allowed.
    if (slot.retryDueAtMs > earliest) {
      this.cancelRetry(slot);
      slot.lastWokenDialAtMs = earliest;
      this.setRetry(slot, earliest - now);
    }
    return 'rate-limited';
  }

  /** Opens a connection to a lower-id peer carrying only our hello, then half-closes it. One in flight per peer. */
  private sendWakeUp(slot: PeerSlot): void {
    if (this.closing || slot.removed || slot.dialed || slot.conn !== null || slot.wakeUp !== null || slot.address.port === 0) return;
    clearTimeout(slot.wakeUpTimer);
    slot.wakeUpTimer = undefined;
    const { id, host, port } = slot.address;
    const { self, clusterId, incarnation, clusterKey, handshakeTimeoutMs } = this.options;
    const hello = new Handshake({
      role: 'dialer',
      self: self.id,
      nodes: this.nodes,
      clusterId,
      incarnation,
      expectedPeer: id,
      ...this.listenOption(),
      ...(clusterKey === undefined ? {} : { clusterKey }),
    }).hello;
    const socket = connect({ host, port });
    slot.wakeUp = socket;
    const timer = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
    socket.setNoDelay(true);
    socket.on('error', (err) => this.options.log.debug({ peer: id, remote: hostPort(host, port), reason: err.message }, 'wake-up not delivered'));
    socket.resume(); // the peer answers with its own hello before closing; it is of no use here
    socket.on('close', () => {
      clearTimeout(timer);
      slot.wakeUp = null;
      // Delivered or not, keep waking the peer (backing off) until it dials us.
      if (!this.closing && !slot.removed && slot.conn === null) {
        slot.wakeUpTimer = setTimeout(() => {
          slot.wakeUpTimer = undefined;
          this.sendWakeUp(slot);
        }, this.options.reconnectDelayMs(slot.wakeUpFailures++));
      }
    });
    socket.end(encodeFrame(hello));
    this.counters.bytesOut += FRAME_HEADER_BYTES + hello.length;
  }

  // --- Connections -------------------------------------------------------------------------------------------

  private onInbound(socket: Socket): void {
    const remote = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.closing) {
      socket.destroy();
      return;
    }
    // At the bound, make room rather than turn the newcomer away (see the top of the file).
    if (this.pending.size >= MAX_PENDING_HANDSHAKES) this.evict();
    const conn = this.attach(socket, 'acceptor', remote, undefined);
    this.pending.add(conn, socket.remoteAddress ?? '?');
    if (HELLO_TIMEOUT_MS < this.options.handshakeTimeoutMs) {
      conn.helloTimer = setTimeout(() => this.fail(conn, 'refused', `no hello within ${HELLO_TIMEOUT_MS} ms`, 'timedOut'), HELLO_TIMEOUT_MS);
    }
  }

  private evict(): void {
    const conn = this.pending.victim();
    assert(conn !== undefined && !conn.dead, 'a pending handshake to evict');
    this.releasePending(conn);
    conn.dead = true;
    this.counters.evicted++;
    const which = conn.handshake.peer === undefined ? 'the oldest without a hello' : 'the oldest under way (none was idle)';
    const reason = `${MAX_PENDING_HANDSHAKES} handshakes pending: made room by closing ${which}`;
    this.warnings.warn('evicted', { peer: conn.peerForLog, remote: conn.remote, reason }, 'connection evicted');
    conn.socket.destroy();
  }

  /** Wires up a socket, starts the handshake clock and sends our hello. */
  private attach(socket: Socket, role: Role, remote: string, peer: NodeId | undefined): Connection {
    const { self, clusterId, incarnation, clusterKey, handshakeTimeoutMs } = this.options;
    const handshake = new Handshake({
      role,
      self: self.id,
      nodes: this.nodes,
      clusterId,
      incarnation,
      ...(peer === undefined ? { anyPeer: role === 'dialer' } : { expectedPeer: peer }),
      ...this.listenOption(),
      ...(clusterKey === undefined ? {} : { clusterKey }),
    });
    const conn = new Connection(socket, role, handshake, remote, peer);
    this.connections.add(conn);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    conn.timer = setTimeout(() => this.onHandshakeTimeout(conn), handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', (err) => {
      conn.error = err; // the 'close' that follows does the cleanup
    });
    socket.on('close', () => this.onClose(conn));
    this.writeFrame(conn, handshake.hello);
    return conn;
  }

  private onHandshakeTimeout(conn: Connection): void {
    if (conn.socket.connecting) {
      // Not a misbehaving peer, just an unreachable address: retried quietly like any failed dial.
      this.options.log.debug({ peer: conn.peer, remote: conn.remote }, 'dial timed out');
      conn.dead = true;
      conn.socket.destroy();
      return;
    }
    this.fail(conn, 'refused', `handshake did not finish within ${this.options.handshakeTimeoutMs} ms`, 'timedOut');
  }

  private onData(conn: Connection, chunk: Buffer): void {
    this.counters.bytesIn += chunk.length;
    if (conn.dead || this.closing) return;
    conn.decoder.write(chunk);
    this.processFrames(conn);
  }

  /** Handles every complete frame: handshake frames until established, then messages. */
  private processFrames(conn: Connection): void {
    while (!conn.dead && !this.closing) {
      let established: Established | null = null;
      let wakeUp: NodeId | null = null;
      let msg: unknown;
      try {
        const frame = conn.decoder.next();
        if (frame === undefined) return;
        if (conn.cipher === undefined) {
          const step = conn.handshake.receive(frame);
          if (conn.identify !== undefined && this.identifiedByHello(conn)) return;
          for (const payload of step.send) this.writeFrame(conn, payload);
          ({ established, wakeUp } = step);
          if (established === null && wakeUp === null) {
            if (conn.handshake.peer !== undefined) this.onHelloSeen(conn);
            continue;
          }
        } else {
          msg = this.openMessage(conn.cipher, frame);
        }
      } catch (err) {
        if (!isPeerFault(err)) throw err;
        if (err instanceof HandshakeError && err.code === 'self' && (conn.identify !== undefined || this.options.dynamic)) {
          // We dialed one of our own addresses (a seed list naming this node), and this is either end of it:
          // not a fault of anyone's, so no warning.
          this.settleIdentify(conn, this.self);
          this.options.log.debug({ remote: conn.remote }, 'reached this node itself');
          this.closeQuietly(conn);
          return;
        }
        this.fail(conn, conn.cipher === undefined ? 'refused' : 'malformed', err.message);
        return;
      }
      // Outside the try: callbacks' own exceptions are not the peer's fault.
      if (wakeUp !== null) {
        this.onWakeUp(conn, wakeUp);
      } else if (established !== null) {
        this.onEstablished(conn, established);
      } else {
        assert(conn.peer !== undefined, 'message on a connection without a peer');
        this.counters.framesIn++;
        this.options.onMessage(conn.peer, msg);
      }
    }
  }

  /** A valid hello, and the handshake goes on (the proof of a key is still to come). */
  private onHelloSeen(conn: Connection): void {
    clearTimeout(conn.helloTimer);
    this.pending.markHelloSeen(conn);
  }

  private openMessage(cipher: FrameCipher, frame: Uint8Array): unknown {
    return decodeMessage(cipher.open(frame));
  }

  private onEstablished(conn: Connection, established: Established): void {
    const { peer, peerIncarnation, cipher } = established;
    let slot = this.peers.get(peer);
    if (slot === undefined && this.options.dynamic) {
      const refusal = this.provisionalRefusal();
      if (refusal !== undefined) return this.fail(conn, 'refused', refusal);
      const listen = conn.identify ?? parseHostPort(conn.handshake.peerListen ?? '');
      slot = this.newSlot({ id: peer, host: listen?.host ?? '', port: listen?.port ?? 0 }, false);
      this.peers.set(peer, slot);
    } else if (conn.identify !== undefined && slot !== undefined && (slot.conn !== null || slot.outbound !== null)) {
      // Already connected or dialing: this connection would only replace that one. Whom it reached is all we wanted.
      this.settleIdentify(conn, peer);
      return this.closeQuietly(conn);
    }
    assert(slot !== undefined, 'the handshake accepted an unknown peer');
    if (conn.identify !== undefined) {
      if (slot.address.port === 0) slot.address = { id: peer, host: conn.identify.host, port: conn.identify.port };
      if (slot.dialed) slot.outbound = conn; // it is the dial of this pair now: its loss is retried as any
    }
    if (slot.firstIncarnation === undefined) {
      slot.firstIncarnation = peerIncarnation;
    } else if (peerIncarnation !== slot.firstIncarnation && this.options.rejectRestartedPeers) {
      const reason = `peer restarted (incarnation ${JSON.stringify(peerIncarnation)}, first seen ${JSON.stringify(slot.firstIncarnation)}) and restarted peers are refused`;
      this.fail(conn, 'refused', reason);
      return;
    }
    clearTimeout(conn.timer);
    this.releasePending(conn);
    conn.peer = peer;
    conn.cipher = cipher;
    conn.open = true;
    conn.decoder.maxFrameBytes = this.options.maxFrameBytes;
    const previous = slot.conn;
    if (previous !== null) {
      // The peer dialed again, so the old connection is dead on its side; ours may not have noticed yet.
      slot.conn = null;
      previous.dead = true;
      previous.socket.destroy();
      this.options.log.info({ peer }, 'peer reconnected: replacing its previous connection');
      this.options.onPeerDown?.(peer);
    }
    slot.conn = conn;
    slot.failures = 0;
    slot.wakeUpFailures = 0;
    clearTimeout(slot.wakeUpTimer);
    slot.wakeUpTimer = undefined;
    this.counters.established++;
    this.options.log.info({ peer, incarnation: peerIncarnation, remote: conn.remote, encrypted: cipher.encrypted }, 'peer connected');
    this.settleIdentify(conn, peer);
    this.options.onPeerUp?.(peer, peerIncarnation);
  }

  /** Closes a connection for the peer's fault: counted, and one warn line (rate-limited). */
  private fail(conn: Connection, failure: Failure, reason: string, kind: ProblemKind = failure): void {
    if (conn.dead) return;
    conn.dead = true;
    this.releasePending(conn);
    conn.identify?.reject(new Error(reason));
    conn.identify = undefined;
    this.counters[failure]++;
    const message = failure === 'refused' ? 'connection refused' : 'connection closed: bad input from peer';
    this.warnings.warn(kind, { peer: conn.peerForLog, remote: conn.remote, reason }, message);
    // Hand frames still corked in this tick to the kernel first: when both sides are refusing each other (a
    // key mismatch), our proof then still reaches the peer, and it logs its own reason instead of a bare close.
    conn.socket.uncork();
    conn.socket.destroy();
  }

  private onClose(conn: Connection): void {
    clearTimeout(conn.timer);
    this.connections.delete(conn);
    this.releasePending(conn);
    const wasDead = conn.dead;
    conn.dead = true;
    if (conn.identify !== undefined) {
      conn.identify.reject(new Error(`${conn.remote}: ${conn.error?.message ?? 'connection closed before the peer said who it is'}`));
      conn.identify = undefined;
    }
    const slot = conn.peer === undefined ? undefined : this.peers.get(conn.peer);
    if (slot !== undefined && slot.conn === conn) {
      slot.conn = null;
      if (!this.closing) {
        this.options.log.info({ peer: conn.peer, reason: conn.error?.message ?? 'connection closed' }, 'peer disconnected');
        this.options.onPeerDown?.(slot.address.id);
        // If we accept from this peer, tell it at once that we are still here (it may not have noticed yet).
        if (slot.added) this.sendWakeUp(slot);
      }
    } else if (conn.role === 'dialer' && !conn.open && !wasDead && !this.closing) {
      this.options.log.debug({ peer: conn.peer, remote: conn.remote, reason: conn.error?.message ?? 'closed during handshake' }, 'dial failed');
    }
    if (slot !== undefined && slot.outbound === conn) {
      slot.outbound = null;
      if (slot.added) this.scheduleDial(slot);
    }
    // A provisional peer lives only as long as its connection or its one dial (see the top of the file).
    if (slot !== undefined && !slot.added && slot.conn === null && slot.outbound === null) this.forget(slot);
    conn.markClosed();
  }

  /** Out of the pending handshakes (established, failed, evicted or closed), its hello deadline with it. */
  private releasePending(conn: Connection): void {
    clearTimeout(conn.helloTimer);
    this.pending.delete(conn);
  }

  private newSlot(address: PeerAddress, added: boolean): PeerSlot {
    return {
      address,
      added,
      removed: false,
      dialed: compareNodeIds(this.options.self.id, address.id) < 0,
      conn: null,
      outbound: null,
      retryTimer: undefined,
      retryDueAtMs: Number.POSITIVE_INFINITY,
      failures: 0,
      lastWokenDialAtMs: Number.NEGATIVE_INFINITY,
      wakeUp: null,
      wakeUpTimer: undefined,
      wakeUpFailures: 0,
      firstIncarnation: undefined,
    };
  }

  /** Why a node not in the table may not get a provisional slot now, or undefined when it may. */
  private provisionalRefusal(): string | undefined {
    if (this.peers.size >= MAX_PEERS) return `${MAX_PEERS} peers already`;
    let provisional = 0;
    for (const slot of this.peers.values()) if (!slot.added) provisional++;
    return provisional >= MAX_PROVISIONAL_PEERS ? `${MAX_PROVISIONAL_PEERS} peers not yet confirmed by membership already` : undefined;
  }

  /** Drops a slot and everything it holds; nothing of it runs afterwards. */
  private forget(slot: PeerSlot): void {
    if (this.peers.get(slot.address.id) === slot) this.peers.delete(slot.address.id);
    slot.removed = true;
    this.cancelRetry(slot);
    clearTimeout(slot.wakeUpTimer);
    slot.wakeUpTimer = undefined;
    slot.wakeUp?.destroy();
    for (const conn of [slot.conn, slot.outbound]) {
      if (conn === null || conn.dead) continue;
      conn.dead = true;
      conn.socket.destroy();
    }
    slot.conn = null;
    slot.outbound = null;
  }

  /**
   * An `identify` dial that has read the peer's hello: when the peer is the lower id it reads our hello as a
   * wake-up and will dial us (our `listen` says where), so its hello is the answer and this connection is done.
   */
  private identifiedByHello(conn: Connection): boolean {
    const peer = conn.handshake.peer;
    if (peer === undefined || compareNodeIds(peer, this.self) >= 0) return false;
    this.settleIdentify(conn, peer);
    this.closeQuietly(conn);
    return true;
  }

  private settleIdentify(conn: Connection, id: NodeId): void {
    conn.identify?.resolve(id);
    conn.identify = undefined;
  }

  /** Closes a connection that has done its job: not a failure, nothing counted. */
  private closeQuietly(conn: Connection): void {
    conn.dead = true;
    this.releasePending(conn);
    conn.socket.destroy();
  }

  private listenOption(): { listen?: string } {
    return this.options.advertise === undefined ? {} : { listen: this.options.advertise };
  }

  // --- Writing -----------------------------------------------------------------------------------------------

  private encode(msg: unknown): EncodedMessage {
    const last = this.lastEncoded;
    if (last !== undefined && last.msg === msg) return last;
    const encoded: EncodedMessage = { msg, bytes: encodeMessage(msg), framed: undefined };
    if (this.lastEncoded === undefined) {
      process.nextTick(() => {
        this.lastEncoded = undefined; // do not keep the message alive, nor trust it unchanged, past this tick
      });
    }
    this.lastEncoded = encoded;
    return encoded;
  }

  private writeFrame(conn: Connection, payload: Uint8Array): void {
    this.cork(conn);
    conn.socket.write(frameHeader(payload.length));
    conn.socket.write(payload);
    this.counters.bytesOut += FRAME_HEADER_BYTES + payload.length;
  }

  private writeFramed(conn: Connection, framed: Buffer): void {
    this.cork(conn);
    conn.socket.write(framed);
    this.counters.bytesOut += framed.length;
  }

  /** The first write to a socket in a tick corks it; the writes of the tick leave together on the next. */
  private cork(conn: Connection): void {
    if (conn.corked) return;
    conn.corked = true;
    conn.socket.cork();
    process.nextTick(() => {
      conn.corked = false;
      conn.socket.uncork();
    });
  }

  private drop(): false {
    this.counters.dropped++;
    return false;
  }
}

function isPeerFault(err: unknown): err is Error {
  return err instanceof FrameError || err instanceof CodecError || err instanceof HandshakeError || err instanceof AuthError;
}

/** Exponential backoff with "equal jitter": uniform in [ceiling/2, ceiling]. */
function reconnectDelayMs(failures: number): number {
  const ceiling = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_INITIAL_DELAY_MS * 2 ** Math.min(failures, 16));
  const half = Math.floor(ceiling / 2);
  return half + randomInt(0, ceiling - half + 1);
}

const hostPort = formatHostPort;

async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function resolveOptions(options: TcpTransportOptions): ResolvedOptions {
  const ids = options.peers.map((peer) => peer.id);
  if (new Set(ids).size !== ids.length) throw new Error(`duplicate node ids in the peer list: ${ids.join(', ')}`);
  if (!ids.includes(options.self.id)) throw new Error(`this node (${options.self.id}) is not in the peer list`);
  for (const peer of options.peers) {
    const minPort = peer.id === options.self.id ? 0 : 1;
    if (!Number.isInteger(peer.port) || peer.port < minPort || peer.port > 65_535) throw new Error(`bad port for ${peer.id}: ${peer.port}`);
  }
  if (options.clusterKey !== undefined && options.clusterKey.length < MIN_CLUSTER_KEY_BYTES) {
    throw new Error(`a cluster key must have at least ${MIN_CLUSTER_KEY_BYTES} bytes, this one has ${options.clusterKey.length}`);
  }
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_FRAME_BYTES_LIMIT) throw new Error(`bad maxFrameBytes: ${maxFrameBytes}`);
  const maxQueuedBytesPerPeer = options.maxQueuedBytesPerPeer ?? DEFAULT_MAX_QUEUED_BYTES_PER_PEER;
  if (!(maxQueuedBytesPerPeer >= 0)) throw new Error(`bad maxQueuedBytesPerPeer: ${maxQueuedBytesPerPeer}`);
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  if (!(handshakeTimeoutMs > 0)) throw new Error(`bad handshakeTimeoutMs: ${handshakeTimeoutMs}`);
  const minWokenDialIntervalMs = options.minWokenDialIntervalMs ?? MIN_WOKEN_DIAL_INTERVAL_MS;
  if (!(minWokenDialIntervalMs >= 0)) throw new Error(`bad minWokenDialIntervalMs: ${minWokenDialIntervalMs}`);
  // Whatever the handshake would refuse is refused here, before a socket is opened, with the reason.
  const helloTexts: Array<[string, string]> = [
    ['cluster id', options.clusterId],
    ['incarnation', options.incarnation],
    ...ids.map((id): [string, string] => ['node id', id]),
  ];
  for (const [what, text] of helloTexts) {
    const problem = helloTextProblem(text);
    if (problem !== undefined) throw new Error(`${what} ${JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text)} ${problem}`);
  }
  const dynamic = options.dynamic ?? false;
  const advertise = dynamic ? (options.advertise ?? formatHostPort(options.self.host, options.self.port)) : undefined;
  if (advertise !== undefined && (parseHostPort(advertise) === undefined || helloTextProblem(advertise) !== undefined)) throw new Error(`bad advertise address: ${advertise}`);
  return {
    ...options,
    dynamic,
    advertise,
    maxFrameBytes,
    maxQueuedBytesPerPeer,
    handshakeTimeoutMs,
    reconnectDelayMs: options.reconnectDelayMs ?? reconnectDelayMs,
    minWokenDialIntervalMs,
    rejectRestartedPeers: options.rejectRestartedPeers ?? false,
  };
}
