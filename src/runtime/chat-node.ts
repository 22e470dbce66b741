/**
 * `chatterbox chat` as an OS process: causal broadcast over the TCP transport, lines from stdin in, lines in
 * causal order out.
 *
 * Every line typed at any node is broadcast; every node prints every line as `<origin>: <text>`, its own
 * included, in an order that respects happens-before: a line typed after reading another is printed after it
 * on every node. When stdin ends the node keeps running until every neighbour has acknowledged its lines (so
 * its last lines are out) or `lingerMs` passes, then exits 0; an interrupt exits 0 at once.
 * Logs go to stderr; stdout carries chat lines only.
 *
 * With `join` (no peers file) the node runs chat beside SWIM (`chatMembershipProtocol`, causal/membership.ts) on a
 * dynamic transport and joins through the seeds (membership-driver.ts); a joiner is sent the history and prints
 * it in causal order. Its stdin's end is then a graceful leave: its lines go out to its neighbours first, the
 * others see it `left`, and it exits 0.
 */
import { createInterface } from 'node:readline';
import type { NodeId } from '../core/ids.js';
import type { PlainData } from '../crdt/data.js';
import type { GossipMsg, GossipPreset } from '../broadcast/gossip.js';
import { causalBroadcast, causalOptions, type CausalOutput, type CausalRequest } from '../causal/causal-broadcast.js';
import type { PeerAddress } from '../transport/tcp-transport.js';
import type { Logger } from '../platform/log.js';
import { listenAsNode } from './node-transport.js';
import { WallClockHost } from '../kernel/wall-clock-host.js';
import { chatMembershipProtocol } from '../causal/membership.js';
import { swimOptions, type MemberEvent } from '../membership/index.js';
import type { WithMembershipRequest } from '../membership/compose.js';
import { formatHostPort } from '../transport/host-port.js';
import { MembershipDriver, isMemberEvent, joinCluster, leaveGracefully } from './membership-driver.js';
import { dnsSeedResolver, type SeedEntry, type SeedResolver } from './join-seeds.js';

export interface ChatNodeConfig {
  readonly self: PeerAddress;
  /** Every node of the cluster, self included, in peers-file order. */
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
  readonly preset: GossipPreset;
  /** After stdin ends, how long at most to wait for the neighbours' acknowledgements. */
  readonly lingerMs: number;
  /** Join through these seeds (`--join`) instead of a static list: `peers` is then just self. */
  readonly join?: readonly SeedEntry[];
  /** "host:port" the other nodes dial this one at (default self's host:port). */
  readonly advertise?: string;
  /** How `join` entries are resolved (default node:dns). */
  readonly resolver?: SeedResolver;
}

export interface ChatIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly log: Logger;
  /** Aborted on SIGINT/SIGTERM: the node stops at once. */
  readonly interrupt?: AbortSignal;
}

/** A longer line is refused with a warning: it would make one oversized message for every node. */
export const MAX_CHAT_LINE_CHARS = 16 * 1024;

// C0 and C1 controls (but tab) and DEL: a peer's line must not move the cursor, clear the screen or retitle the terminal.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** The printed form of a delivered line. Non-string payloads (from other clients) are shown as JSON. */
export function formatChatLine(origin: NodeId, payload: PlainData): string {
  let text: string;
  if (typeof payload === 'string') text = payload;
  else {
    try {
      text = JSON.stringify(payload, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) ?? String(payload);
    } catch {
      text = String(payload);
    }
  }
  return `${origin}: ${text.replace(CONTROL, '\ufffd')}`;
}

/** Resolves with the exit code once the node has stopped. */
export async function runChatNode(config: ChatNodeConfig, io: ChatIo): Promise<number> {
  const startedAtMs = performance.timeOrigin;
  const { log } = io;
  // With `join`, messages are tagged with their half (membership/compose.ts); the host only moves them.
  let host: WallClockHost<unknown, CausalOutput | MemberEvent, WithMembershipRequest<CausalRequest>> | undefined;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const dynamic = config.join !== undefined;
  const advertise = config.advertise ?? formatHostPort(config.self.host, config.self.port);
  const stopping = new AbortController();
  let driver: MembershipDriver | undefined;

  const transport = await listenAsNode(dynamic ? { ...config, peers: [config.self] } : config, {
    // Chat nodes come and go: a restarted peer is taken back, and gossip sends it the whole history.
    rejectRestartedPeers: false,
    log,
    onMessage: (from, msg) => host?.receive(from, msg as GossipMsg),
    onPeerUp: () => driver?.changed(),
    ...(dynamic ? { dynamic: true, advertise } : {}),
  });
  const members = new MembershipDriver(transport, dynamic, log);
  driver = members;

  host = new WallClockHost<unknown, CausalOutput | MemberEvent, WithMembershipRequest<CausalRequest>>(dynamic ? chatMembershipProtocol : causalBroadcast, {
    send: (to, msg) => transport.send(to, msg),
    output: (out) => {
      if (isMemberEvent(out)) return members.onMember(out.member);
      switch (out.kind) {
        case 'deliver':
          io.stdout.write(`${formatChatLine(out.origin, out.payload)}\n`);
          break;
        case 'accepted':
          log.debug({ clock: out.clock.toString() }, 'line broadcast');
          break;
        case 'rejected':
          log.warn({ reason: out.reason }, 'line not sent');
          break;
      }
    },
    halt: () => finish(0),
    log,
  });
  const options = dynamic ? { swim: swimOptions(advertise), inner: causalOptions(config.preset) } : causalOptions(config.preset);
  host.start(config.self.id, dynamic ? [config.self.id] : config.peers.map((p) => p.id), options, startedAtMs);
  log.info(
    { ...(dynamic ? { join: config.join?.length, advertise } : { peers: config.peers.length }), port: config.self.port, gossip: config.preset },
    'chat node started; type lines to send them',
  );
  members.started();
  if (config.join !== undefined) {
    const resolver = config.resolver ?? (await dnsSeedResolver());
    void joinCluster(config.join, {
      driver: members,
      transport,
      resolver,
      requestJoin: (seeds) => host?.request({ membership: { op: 'join', seeds } }),
      log,
      stop: stopping.signal,
    }).catch((error: unknown) => {
      log.fatal({ err: error }, 'joining the cluster failed');
      finish(1);
    });
  }

  const lines = createInterface({ input: io.stdin, crlfDelay: Infinity, terminal: false });
  lines.on('line', (raw) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) return;
    if (line.length > MAX_CHAT_LINE_CHARS) {
      log.warn({ chars: line.length, max: MAX_CHAT_LINE_CHARS }, 'line too long; not sent');
      return;
    }
    host?.request({ kind: 'broadcast', payload: line });
  });
  lines.on('close', () => {
    if (dynamic) {
      log.debug({}, 'input ended; leaving the cluster');
      void leaveGracefully(() => host?.request({ membership: { op: 'leave' } }), members, stopping.signal).then(() => finish(0));
      return;
    }
    log.debug({ lingerMs: config.lingerMs }, 'input ended; waiting for the neighbours to acknowledge');
    host?.request({ kind: 'drain', withinMs: config.lingerMs });
  });
  // A closed stdout (`chatterbox chat | head -1`) ends the chat like an interrupt rather than crashing it.
  io.stdout.on('error', () => finish(0));
  const onInterrupt = (): void => finish(0);
  if (io.interrupt?.aborted === true) finish(0);
  io.interrupt?.addEventListener('abort', onInterrupt, { once: true });

  const code = await finished;
  stopping.abort();
  io.interrupt?.removeEventListener('abort', onInterrupt);
  lines.removeAllListeners('close');
  lines.close();
  host.stop();
  log.info({ ...host.metrics() }, 'chat node stopping');
  await transport.close();
  return code;
}
