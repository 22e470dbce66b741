/**
 * TCP transport between cluster nodes: the I/O half for protocols that only say "send this to that node".
 *
 * Theory of operation (in the manner of memberlist's transport.go):
 *
 * Each pair of nodes shares exactly one TCP connection. The node whose id sorts lower (plain string order)
 * dials; the other only accepts, and refuses a connection from a higher id. So two nodes never race to open
 * two connections, and there is no tie to break. A dialer that loses its connection, or cannot make one,
 * dials again after an exponential backoff with jitter (RECONNECT_INITIAL_DELAY_MS doubling up to
 * RECONNECT_MAX_DELAY_MS), forever, until the transport is closed. An acceptor that gets a new connection from
 * a peer it thinks is still connected takes the new one: the peer dialed again, so the old one is dead to it.
 *
 * Every connection starts with a handshake (secure-channel.ts) that names the cluster, both node ids and
 * their incarnations, and, with a cluster key, authenticates both sides and encrypts everything after it.
 * Only then is the peer "up" (onPeerUp) and do messages flow, each in one length-prefixed frame
 * (framing.ts) holding one MessagePack-encoded message (codec.ts).
 *
 * Delivery guarantee: messages sent over one connection arrive in the order sent, each at most once, and
 * none is altered (with a key, cryptographically). Nothing more. `send` drops a message, and says so by
 * returning false, when the peer is not connected or when more than maxQueuedBytesPerPeer bytes are already
 * waiting for the socket; messages already written can still be lost when a connection breaks, and a new
 * connection does not resend them. Protocols therefore treat the network as lossy and retransmit, and they
 * must not assume that a message sent before a reconnection arrives before one sent after it.
 * Nothing is sent to self: a driver delivers self-addressed messages itself.
 *
 * Hostile or broken input is contained to its connection: an oversized frame, a frame that fails to decrypt or
 * decode, a message that fails the protocol's guard, or a failed handshake destroys that socket, logs one warn
 * line (peer, remote address, reason) and is counted; other connections and the node carry on. Unauthenticated
 * connections are bounded in number (MAX_PENDING_HANDSHAKES), in time (handshake timeout) and in frame size
 * (HANDSHAKE_MAX_FRAME_BYTES), so they cannot make the node buffer much.
 *
 * Writes are coalesced: the first frame written to a socket in a tick corks it and a nextTick uncorks it, so
 * a burst of small sends becomes one writev. Nagle is off (setNoDelay) because we do our own batching.
 * Callbacks (onMessage, onPeerUp, onPeerDown) run synchronously from socket events; an exception thrown by
 * one is a bug in the caller and propagates. (The guard is the exception: if it throws, the message counts as
 * failing it, since the input is the peer's.) After close() starts no callback runs.
 */
import { randomInt } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { assert } from '../core/assert.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import type { Logger } from '../runtime/log.js';
import { CodecError, decodeMessage, encodeMessage } from './codec.js';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameDecoder, FrameError, MAX_FRAME_BYTES_LIMIT, encodeFrame, frameHeader } from './framing.js';
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
export const RECONNECT_INITIAL_DELAY_MS = 50;
export const RECONNECT_MAX_DELAY_MS = 2_000;
/** close() waits this long for queued frames to drain before it destroys the sockets. */
export const CLOSE_FLUSH_TIMEOUT_MS = 2_000;
/** TCP keepalive, so an idle connection to a vanished host is noticed eventually. */
export const KEEPALIVE_INITIAL_DELAY_MS = 10_000;
/** Inbound connections still in their handshake; more are refused at once. */
export const MAX_PENDING_HANDSHAKES = 64;

export interface TcpTransportOptions {
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
  /** The protocol's guard: a decoded message failing it closes the connection with one log line. */
  readonly isMessage: (value: unknown) => boolean;
  /** The first incarnation seen per peer is remembered; a different one later is refused when true (default false). */
  readonly rejectRestartedPeers?: boolean;
  readonly log: Logger;
  readonly onMessage: (from: NodeId, msg: unknown) => void;
  readonly onPeerUp?: (id: NodeId, incarnation: string) => void;
  readonly onPeerDown?: (id: NodeId) => void;
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
  /** Connections refused during the handshake (wrong cluster, key, id; timeout; too many pending). */
  refused: number;
  /** Established connections closed for bad input (oversized, undecryptable, undecodable, failing the guard). */
  malformed: number;
  /** Handshakes completed. */
  established: number;
}

/** A message that decoded but failed the protocol's guard. */
class GuardError extends Error {
  override readonly name = 'GuardError';
}

type Failure = 'refused' | 'malformed';

class Connection {
  readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  /** The peer's id: known from the start for a dialer, once established for an acceptor. */
  peer: NodeId | undefined;
  cipher: FrameCipher | undefined;
  open = false;
  /** Failed or closing: no more frames are processed and no more lines are logged for it. */
  dead = false;
  /** Counted in TcpTransport.pendingInbound. */
  pendingInbound = false;
  corked = false;
  timer: NodeJS.Timeout | undefined;
  error: Error | undefined;
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

interface PeerSlot {
  readonly address: PeerAddress;
  /** Self sorts lower, so self dials this peer. */
  readonly dialed: boolean;
  /** The established connection, if any. */
  conn: Connection | null;
  /** The dialed connection from dial to close (dialed peers only). */
  outbound: Connection | null;
  retryTimer: NodeJS.Timeout | undefined;
  /** Consecutive dials that did not end in an established connection. */
  failures: number;
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
  readonly rejectRestartedPeers: boolean;
}

export class TcpTransport {
  private readonly options: ResolvedOptions;
  private readonly nodes: ReadonlySet<string>;
  private readonly peers = new Map<NodeId, PeerSlot>();
  private readonly connections = new Set<Connection>();
  private readonly server: Server;
  private readonly counters: TransportStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dropped: 0,
    refused: 0,
    malformed: 0,
    established: 0,
  };
  private pendingInbound = 0;
  private closing = false;
  private closed: Promise<void> | undefined;
  /** The last message encoded, so a broadcast in one tick encodes once. Cleared on the next tick. */
  private lastEncoded: EncodedMessage | undefined;

  private constructor(options: TcpTransportOptions) {
    this.options = resolveOptions(options);
    this.nodes = new Set(options.peers.map((peer) => peer.id));
    const self = options.self.id;
    for (const address of options.peers) {
      if (address.id === self) continue;
      this.peers.set(address.id, {
        address,
        dialed: compareNodeIds(self, address.id) < 0,
        conn: null,
        outbound: null,
        retryTimer: undefined,
        failures: 0,
        firstIncarnation: undefined,
      });
    }
    this.server = createServer((socket) => this.onInbound(socket));
  }

  /** Binds self.host:self.port, then starts dialing. Rejects with an Error naming host:port if binding fails. */
  static async listen(options: TcpTransportOptions): Promise<TcpTransport> {
    const transport = new TcpTransport(options);
    await transport.bind();
    for (const slot of transport.peers.values()) if (slot.dialed) transport.dial(slot);
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
    for (const slot of this.peers.values()) {
      clearTimeout(slot.retryTimer);
      slot.retryTimer = undefined;
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
    await serverClosed;
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

  // --- Connections -------------------------------------------------------------------------------------------

  private dial(slot: PeerSlot): void {
    if (this.closing || slot.outbound !== null) return;
    const { id, host, port } = slot.address;
    slot.outbound = this.attach(connect({ host, port }), 'dialer', hostPort(host, port), id);
  }

  private scheduleDial(slot: PeerSlot): void {
    if (this.closing || slot.retryTimer !== undefined || slot.outbound !== null) return;
    const delayMs = reconnectDelayMs(slot.failures++);
    slot.retryTimer = setTimeout(() => {
      slot.retryTimer = undefined;
      this.dial(slot);
    }, delayMs);
  }

  private onInbound(socket: Socket): void {
    const remote = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.pendingInbound >= MAX_PENDING_HANDSHAKES) {
      this.counters.refused++;
      this.options.log.warn({ remote, reason: `more than ${MAX_PENDING_HANDSHAKES} handshakes pending` }, 'connection refused');
      socket.destroy();
      return;
    }
    const conn = this.attach(socket, 'acceptor', remote, undefined);
    conn.pendingInbound = true;
    this.pendingInbound++;
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
      ...(peer === undefined ? {} : { expectedPeer: peer }),
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
    this.fail(conn, 'refused', `handshake did not finish within ${this.options.handshakeTimeoutMs} ms`);
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
      let msg: unknown;
      try {
        const frame = conn.decoder.next();
        if (frame === undefined) return;
        if (conn.cipher === undefined) {
          const step = conn.handshake.receive(frame);
          for (const payload of step.send) this.writeFrame(conn, payload);
          if (step.established === null) continue;
          established = step.established;
        } else {
          msg = this.openMessage(conn.cipher, frame);
        }
      } catch (err) {
        if (!isPeerFault(err)) throw err;
        this.fail(conn, conn.cipher === undefined ? 'refused' : 'malformed', err.message);
        return;
      }
      // Outside the try: callbacks' own exceptions are not the peer's fault.
      if (established !== null) {
        this.onEstablished(conn, established);
      } else {
        assert(conn.peer !== undefined, 'message on a connection without a peer');
        this.counters.framesIn++;
        this.options.onMessage(conn.peer, msg);
      }
    }
  }

  private openMessage(cipher: FrameCipher, frame: Uint8Array): unknown {
    const msg = decodeMessage(cipher.open(frame));
    let valid: boolean;
    try {
      valid = this.options.isMessage(msg);
    } catch (err) {
      // A guard should be total, but one that trips over odd input must not let a peer crash the node.
      throw new GuardError(`the protocol guard threw on a message: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!valid) throw new GuardError('message failed the protocol guard');
    return msg;
  }

  private onEstablished(conn: Connection, established: Established): void {
    const { peer, peerIncarnation, cipher } = established;
    const slot = this.peers.get(peer);
    assert(slot !== undefined, 'the handshake accepted an unknown peer');
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
    this.counters.established++;
    this.options.log.info({ peer, incarnation: peerIncarnation, remote: conn.remote, encrypted: cipher.encrypted }, 'peer connected');
    this.options.onPeerUp?.(peer, peerIncarnation);
  }

  /** Closes a connection for the peer's fault: one warn line, one count. */
  private fail(conn: Connection, failure: Failure, reason: string): void {
    if (conn.dead) return;
    conn.dead = true;
    this.counters[failure]++;
    const message = failure === 'refused' ? 'connection refused' : 'connection closed: bad input from peer';
    this.options.log.warn({ peer: conn.peerForLog, remote: conn.remote, reason }, message);
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
    const slot = conn.peer === undefined ? undefined : this.peers.get(conn.peer);
    if (slot !== undefined && slot.conn === conn) {
      slot.conn = null;
      if (!this.closing) {
        this.options.log.info({ peer: conn.peer, reason: conn.error?.message ?? 'connection closed' }, 'peer disconnected');
        this.options.onPeerDown?.(slot.address.id);
      }
    } else if (conn.role === 'dialer' && !conn.open && !wasDead && !this.closing) {
      this.options.log.debug({ peer: conn.peer, remote: conn.remote, reason: conn.error?.message ?? 'closed during handshake' }, 'dial failed');
    }
    if (slot !== undefined && slot.outbound === conn) {
      slot.outbound = null;
      this.scheduleDial(slot);
    }
    conn.markClosed();
  }

  private releasePending(conn: Connection): void {
    if (!conn.pendingInbound) return;
    conn.pendingInbound = false;
    this.pendingInbound--;
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
  return err instanceof FrameError || err instanceof CodecError || err instanceof HandshakeError || err instanceof AuthError || err instanceof GuardError;
}

/** Exponential backoff with "equal jitter": uniform in [ceiling/2, ceiling]. */
function reconnectDelayMs(failures: number): number {
  const ceiling = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_INITIAL_DELAY_MS * 2 ** Math.min(failures, 16));
  const half = Math.floor(ceiling / 2);
  return half + randomInt(0, ceiling - half + 1);
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

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
  return { ...options, maxFrameBytes, maxQueuedBytesPerPeer, handshakeTimeoutMs, rejectRestartedPeers: options.rejectRestartedPeers ?? false };
}
