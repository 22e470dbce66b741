/**
 * The handshake that opens every connection between two nodes, and the encryption that follows it when the
 * cluster has a shared key. Sans-IO: `Handshake` takes frame payloads in and hands frame payloads back; the
 * transport moves them and runs the timeout (HANDSHAKE_TIMEOUT_MS).
 *
 * 1. Both sides send a plaintext hello at once: {v, cluster, node, incarnation, nonce (32 random bytes), keyed},
 *    and, from a node whose peers come and go (TcpTransport's dynamic mode), `listen`: the "host:port" it can be
 *    dialed at, so that a node that has not heard of it yet can dial it back. Version 1 readers that predate
 *    the field ignore it, and the transcript covers it, so with a key it is authenticated like the rest.
 * 2. Each checks the other's: same protocol version and cluster id; the node id is a known node other than
 *    itself; both have a cluster key or neither has; a dialer reached the node it dialed; an acceptor accepts
 *    only from lower ids (the lower id dials, so each pair has one connection). A hello from a higher id on the
 *    acceptor side is not refused but read as a wake-up: the higher id is up and asks to be dialed now
 *    (tcp-transport.ts). Like every hello before the proof it is unauthenticated, so the transport rate-limits
 *    what it does about one.
 * 3. Without a key the connection is open: frames are plaintext MessagePack. Anyone who can reach the port and
 *    knows the (non-secret) cluster id and a node id can speak; use a key on any network you do not control.
 * 4. With a key, each direction gets its own keys: HKDF-SHA256(ikm = cluster key, salt = dialer nonce ||
 *    acceptor nonce, info = "chatterbox/1 dialer->acceptor" or "... acceptor->dialer") yields an AES-256-GCM
 *    key and an HMAC key. Each side sends a proof, HMAC(its direction's MAC key, SHA-256 of both hellos), as
 *    its first encrypted frame; the other verifies it before the connection counts as open. Then every frame
 *    payload is AES-256-GCM ciphertext || 16-byte tag, under a 12-byte nonce made from a per-direction frame
 *    counter (implicit, never on the wire, never reused under one key: fresh nonces give fresh keys per
 *    connection).
 *
 * Why this is enough: without the key nobody can derive the session keys, so they cannot read frames, forge
 * one, or complete a handshake (a wrong or missing key fails at the proof). Fresh nonces from both sides make
 * recorded traffic useless in a later connection; per-direction keys make reflected frames fail; the proof
 * covers both hellos as each side saw them, so tampering with a plaintext hello (node id, incarnation) fails too.
 * Frame lengths stay visible, and a frame's counter position is authenticated implicitly (a dropped, repeated
 * or reordered frame fails to decrypt and closes the connection). No forward secrecy: whoever later obtains
 * the cluster key and has recorded the traffic can decrypt it. Key rotation means restarting the cluster.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { assert } from '../core/assert.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { CodecError, decodeMessage, encodeMessage } from './codec.js';
import { MAX_HELLO_TEXT_CHARS, helloTextProblem } from './hello-text.js';

export const PROTOCOL_VERSION = 1;
/** A connection that has not finished its handshake this long after it started is closed. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/** Frame cap while the peer is unauthenticated: hellos and proofs are far smaller. */
export const HANDSHAKE_MAX_FRAME_BYTES = 4 * 1024;
export const NONCE_BYTES = 32;
export const MIN_CLUSTER_KEY_BYTES = 16;
const AES_KEY_BYTES = 32;
const MAC_KEY_BYTES = 32;
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;

export type Role = 'dialer' | 'acceptor';

/** The peer was refused during the handshake; the message says why, for the one log line. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  /** 'self': the peer's hello carries this node's own id (an address of this node was dialed). */
  constructor(
    message: string,
    readonly code?: 'self',
  ) {
    super(message);
  }
}

/** An encrypted frame failed authentication: wrong key, tampering, or a lost frame. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
}

/** Turns outgoing frame payloads into wire payloads and back. `open` throws `AuthError`. */
export interface FrameCipher {
  readonly encrypted: boolean;
  /** How many bytes `seal` adds: a sender checks sizes before sealing, since a sealed frame must be sent. */
  readonly overheadBytes: number;
  seal(plaintext: Uint8Array): Uint8Array;
  open(payload: Uint8Array): Uint8Array;
}

export const PLAINTEXT_CIPHER: FrameCipher = {
  encrypted: false,
  overheadBytes: 0,
  seal: (plaintext) => plaintext,
  open: (payload) => payload,
};

/** AES-256-GCM with one key and one frame counter per direction. */
class AesGcmCipher implements FrameCipher {
  readonly encrypted = true;
  readonly overheadBytes = GCM_TAG_BYTES;
  private sent = 0;
  private received = 0;

  constructor(
    private readonly sendKey: Buffer,
    private readonly receiveKey: Buffer,
  ) {}

  seal(plaintext: Uint8Array): Uint8Array {
    const cipher = createCipheriv('aes-256-gcm', this.sendKey, counterIv(this.sent++), { authTagLength: GCM_TAG_BYTES });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  open(payload: Uint8Array): Uint8Array {
    if (payload.length < GCM_TAG_BYTES) throw new AuthError('encrypted frame shorter than its authentication tag');
    const tagStart = payload.length - GCM_TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', this.receiveKey, counterIv(this.received++), { authTagLength: GCM_TAG_BYTES });
    decipher.setAuthTag(payload.subarray(tagStart));
    try {
      return Buffer.concat([decipher.update(payload.subarray(0, tagStart)), decipher.final()]);
    } catch {
      throw new AuthError('encrypted frame failed authentication (different cluster key, or tampered with)');
    }
  }
}

/** 4 zero bytes, then the frame counter as a big-endian 64-bit integer. */
function counterIv(counter: number): Buffer {
  // 2^53 frames on one connection are out of reach; the assert keeps the nonce-uniqueness argument airtight.
  assert(Number.isSafeInteger(counter), 'AES-GCM frame counter exhausted');
  const iv = Buffer.alloc(GCM_IV_BYTES);
  iv.writeUInt32BE(Math.floor(counter / 2 ** 32), 4);
  iv.writeUInt32BE(counter >>> 0, 8);
  return iv;
}

export interface Hello {
  readonly v: number;
  readonly cluster: string;
  readonly node: string;
  readonly incarnation: string;
  readonly nonce: Uint8Array;
  readonly keyed: boolean;
  /** Where the sender listens, "host:port" (dynamic membership only; see step 1 above). */
  readonly listen?: string;
}

export function encodeHello(hello: Hello): Uint8Array {
  // A copy: the bytes are kept for the transcript, so they must not share msgpackr's output buffer.
  return Buffer.from(encodeMessage({ ...hello }));
}

/** Parses and type-checks a hello; throws `HandshakeError`. The version is checked first, so that a newer
 * hello with other fields is reported as a version mismatch. */
export function decodeHello(payload: Uint8Array): Hello {
  let value: unknown;
  try {
    value = decodeMessage(payload);
  } catch (err) {
    if (err instanceof CodecError) throw new HandshakeError(`malformed hello: ${err.message}`);
    throw err;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HandshakeError('malformed hello: not a map');
  const fields = value as Record<string, unknown>;
  if (fields['v'] !== PROTOCOL_VERSION) {
    throw new HandshakeError(`peer speaks protocol version ${quote(fields['v'])}, this node speaks ${PROTOCOL_VERSION}`);
  }
  const { cluster, node, incarnation, nonce, keyed, listen } = fields;
  if (!isHelloText(cluster) || !isHelloText(node) || node.length === 0 || !isHelloText(incarnation)) {
    throw new HandshakeError(`malformed hello: cluster, node and incarnation must be strings of at most ${MAX_HELLO_TEXT_CHARS} characters, node non-empty`);
  }
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) throw new HandshakeError('malformed hello: bad nonce');
  if (typeof keyed !== 'boolean') throw new HandshakeError('malformed hello: bad keyed flag');
  if (listen !== undefined && !isHelloText(listen)) throw new HandshakeError('malformed hello: bad listen address');
  return { v: PROTOCOL_VERSION, cluster, node, incarnation, nonce, keyed, ...(listen === undefined ? {} : { listen }) };
}

function isHelloText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_HELLO_TEXT_CHARS;
}

/** For log lines about hostile input: strings quoted and escaped, anything shortened. */
function quote(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

export interface HandshakeOptions {
  readonly role: Role;
  readonly self: NodeId;
  /** Every node of the cluster, self included; in dynamic mode a set that has every id. */
  readonly nodes: Pick<ReadonlySet<string>, 'has'>;
  readonly clusterId: string;
  readonly incarnation: string;
  /** For a dialer: the node it dialed. */
  readonly expectedPeer?: NodeId;
  /** For a dialer without `expectedPeer`: it dialed an address, and any node of the cluster may answer. */
  readonly anyPeer?: boolean;
  /** Sent in our hello as `listen` (dynamic membership). */
  readonly listen?: string;
  readonly clusterKey?: Buffer;
  /** Tests only: a fixed nonce. Real handshakes draw 32 random bytes. */
  readonly nonce?: Uint8Array;
}

export interface Established {
  readonly peer: NodeId;
  readonly peerIncarnation: string;
  readonly cipher: FrameCipher;
}

export interface HandshakeStep {
  /** Frame payloads to send, in order. */
  readonly send: readonly Uint8Array[];
  /** Set once the peer is verified; later frames are data, through `cipher`. */
  readonly established: Established | null;
  /**
   * Acceptor only: the hello came from a known higher id, which never dials us, so it asks to be dialed. The
   * handshake ends here; the connection has done its job. Unauthenticated even with a key.
   */
  readonly wakeUp: NodeId | null;
}

export class Handshake {
  /** Our hello's frame payload: the first frame to send. */
  readonly hello: Uint8Array;
  private readonly nonce: Uint8Array;
  private phase: 'hello' | 'proof' | 'done' = 'hello';
  private peerHello: Hello | undefined;
  private cipher: AesGcmCipher | undefined;
  private expectedProof: Buffer | undefined;

  constructor(private readonly options: HandshakeOptions) {
    assert(options.role === 'acceptor' || options.expectedPeer !== undefined || options.anyPeer === true, 'a dialer must know whom it dialed');
    assert(options.clusterKey === undefined || options.clusterKey.length >= MIN_CLUSTER_KEY_BYTES, 'cluster key too short');
    for (const text of [options.clusterId, options.self, options.incarnation, ...(options.listen === undefined ? [] : [options.listen])]) {
      const problem = helloTextProblem(text);
      assert(problem === undefined, `our own hello would be refused: ${quote(text)} ${problem ?? ''}`);
    }
    const nonce = options.nonce ?? randomBytes(NONCE_BYTES);
    assert(nonce.length === NONCE_BYTES, 'nonce length');
    this.nonce = nonce;
    this.hello = encodeHello({
      v: PROTOCOL_VERSION,
      cluster: options.clusterId,
      node: options.self,
      incarnation: options.incarnation,
      nonce,
      keyed: options.clusterKey !== undefined,
      ...(options.listen === undefined ? {} : { listen: options.listen }),
    });
  }

  /** The peer's id once its hello has passed the checks (for log lines), else undefined. */
  get peer(): NodeId | undefined {
    return this.peerHello?.node as NodeId | undefined;
  }

  /** The peer's `listen` address once its hello has passed the checks (wake-ups included), else undefined. */
  get peerListen(): string | undefined {
    return this.peerHello?.listen;
  }

  /** Feeds one frame payload from the peer. Throws `HandshakeError` when the peer must be refused. */
  receive(payload: Uint8Array): HandshakeStep {
    switch (this.phase) {
      case 'hello':
        return this.receiveHello(payload);
      case 'proof':
        return this.receiveProof(payload);
      case 'done':
        assert(false, 'handshake frame after the handshake finished');
    }
  }

  private receiveHello(payload: Uint8Array): HandshakeStep {
    const hello = decodeHello(payload);
    this.check(hello);
    if (this.options.role === 'acceptor' && compareNodeIds(hello.node as NodeId, this.options.self) > 0) {
      this.peerHello = hello; // for its listen address: the transport may not know where the waking node is
      this.phase = 'done';
      return { send: [], established: null, wakeUp: hello.node as NodeId };
    }
    this.peerHello = hello;
    const key = this.options.clusterKey;
    if (key === undefined) {
      this.phase = 'done';
      return { send: [], established: this.established(PLAINTEXT_CIPHER), wakeUp: null };
    }
    const dialerFirst = this.options.role === 'dialer';
    const [dialerHello, acceptorHello] = dialerFirst ? [this.hello, payload] : [payload, this.hello];
    const salt = Buffer.concat(dialerFirst ? [this.nonce, hello.nonce] : [hello.nonce, this.nonce]);
    const toAcceptor = deriveDirection(key, salt, 'dialer->acceptor');
    const toDialer = deriveDirection(key, salt, 'acceptor->dialer');
    const [mine, theirs] = dialerFirst ? [toAcceptor, toDialer] : [toDialer, toAcceptor];
    const transcript = transcriptHash(dialerHello, acceptorHello);
    this.cipher = new AesGcmCipher(mine.aesKey, theirs.aesKey);
    this.expectedProof = hmac(theirs.macKey, transcript);
    this.phase = 'proof';
    return { send: [this.cipher.seal(hmac(mine.macKey, transcript))], established: null, wakeUp: null };
  }

  private receiveProof(payload: Uint8Array): HandshakeStep {
    assert(this.cipher !== undefined && this.expectedProof !== undefined, 'proof phase without keys');
    let proof: Uint8Array;
    try {
      proof = this.cipher.open(payload);
    } catch (err) {
      if (err instanceof AuthError) throw new HandshakeError('peer failed to prove it holds the cluster key (different key, or tampered handshake)');
      throw err;
    }
    if (proof.length !== this.expectedProof.length || !timingSafeEqual(proof, this.expectedProof)) {
      throw new HandshakeError('peer proof does not match the handshake transcript');
    }
    this.phase = 'done';
    return { send: [], established: this.established(this.cipher), wakeUp: null };
  }

  private check(hello: Hello): void {
    const { self, nodes, clusterId, role, expectedPeer, clusterKey } = this.options;
    if (hello.cluster !== clusterId) throw new HandshakeError(`peer is in cluster ${quote(hello.cluster)}, this node in ${quote(clusterId)}`);
    if (hello.node === self) throw new HandshakeError('peer claims this node\'s own id', 'self');
    if (!nodes.has(hello.node)) throw new HandshakeError(`unknown node id ${quote(hello.node)}`);
    // Before the direction checks, so that a wake-up from a node configured without the key (or with one
    // when we have none) is refused with the reason, not acted on.
    if (clusterKey !== undefined && !hello.keyed) throw new HandshakeError('peer has no cluster key, and this cluster requires one');
    if (clusterKey === undefined && hello.keyed) throw new HandshakeError('peer uses a cluster key, and this node has none');
    const peer = hello.node as NodeId;
    if (role === 'dialer' && expectedPeer !== undefined && peer !== expectedPeer) throw new HandshakeError(`dialed ${expectedPeer ?? '?'} but ${peer} answered`);
  }

  private established(cipher: FrameCipher): Established {
    assert(this.peerHello !== undefined, 'established before the peer hello');
    return { peer: this.peerHello.node as NodeId, peerIncarnation: this.peerHello.incarnation, cipher };
  }
}

interface DirectionKeys {
  readonly aesKey: Buffer;
  readonly macKey: Buffer;
}

function deriveDirection(clusterKey: Buffer, salt: Buffer, direction: string): DirectionKeys {
  const okm = Buffer.from(hkdfSync('sha256', clusterKey, salt, `chatterbox/${PROTOCOL_VERSION} ${direction}`, AES_KEY_BYTES + MAC_KEY_BYTES));
  return { aesKey: okm.subarray(0, AES_KEY_BYTES), macKey: okm.subarray(AES_KEY_BYTES) };
}

/** SHA-256 over both hellos, each prefixed by its length, dialer's first. */
function transcriptHash(dialerHello: Uint8Array, acceptorHello: Uint8Array): Buffer {
  const hash = createHash('sha256');
  for (const hello of [dialerHello, acceptorHello]) {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(hello.length, 0);
    hash.update(length).update(hello);
  }
  return hash.digest();
}

function hmac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * A cluster key from a key file's contents: trailing whitespace (the usual newline) is ignored, the rest is
 * the key material as bytes. HKDF extracts from it, so any secret of at least MIN_CLUSTER_KEY_BYTES bytes
 * works; `openssl rand -hex 32 > cluster.key` is a good one.
 */
export function clusterKeyFromFileContents(contents: Uint8Array): Buffer {
  let end = contents.length;
  while (end > 0 && isAsciiSpace(contents[end - 1] ?? 0)) end--;
  if (end < MIN_CLUSTER_KEY_BYTES) throw new Error(`a cluster key must have at least ${MIN_CLUSTER_KEY_BYTES} bytes, this one has ${end}`);
  return Buffer.from(contents.subarray(0, end));
}

function isAsciiSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
