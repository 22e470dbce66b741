/**
 * The process side of membership (src/membership/): what a node running `withMembership(…)` in a WallClockHost
 * does with SWIM's member events, and how a `--join` node gets into its cluster.
 *
 * - Member events keep `members` (the member table, member-table.ts: every member SWIM still knows, with its
 *   last state) and, when the transport is dynamic, its peer table: a member with an address is `addPeer`ed
 *   while alive, suspect or dead, and `removePeer`d once it left or SWIM forgot it. A suspect must stay reachable
 *   or it could not refute; a dead one, because SWIM keeps pushing/pulling with the dead (memberlist's reconnect)
 *   so that a node back from a pause or partition is seen alive again; the transport redials it with its capped
 *   backoff meanwhile. With a static peers file the table stays as configured: membership only reports states.
 * - Joining (`joinCluster`): find the seeds (join-seeds.ts, retrying until one answers), add them, wait until
 *   one is connected, and hand SWIM `{op: 'join', seeds}`; if no other member shows up alive within a round's
 *   backoff, start over with a fresh resolution (seeds restart and move). An empty seed list (only this node)
 *   starts a new cluster. Everything waits on transport and membership events, bounded by the named backoff;
 *   the node's stop ends any wait.
 */
import { compareNodeIds, type NodeId } from '../core/ids.js';
import type { Member, MemberEvent } from '../membership/index.js';
import { LEAVE_DRAIN_MAX_MS } from '../membership/compose.js';
import type { Logger } from '../platform/log.js';
import type { TcpTransport } from '../transport/tcp-transport.js';
import { formatHostPort, parseHostPort } from '../transport/host-port.js';
import { findSeeds, joinRetryDelayMs, type SeedEntry, type SeedResolver } from './join-seeds.js';
import { MemberTable, isMembershipEvent } from './member-table.js';

/** Whether a protocol output is a membership event (a member's state, or a member SWIM forgot). */
export function isMemberEvent(value: unknown): value is MemberEvent {
  return isMembershipEvent(value);
}

export class MembershipDriver {
  private readonly known = new MemberTable<Member>();
  private readonly listeners = new Set<() => void>();
  /** Changes are info lines once the node has said it started (`started()`); debug before, so a node that
   * fails to start still ends with its one error line. */
  private announced = false;

  constructor(
    private readonly transport: Pick<TcpTransport, 'self' | 'addPeer' | 'removePeer' | 'connectedPeers'>,
    private readonly dynamic: boolean,
    private readonly log: Logger,
  ) {}

  get self(): NodeId {
    return this.transport.self;
  }

  /** A member event from the protocol's outputs. */
  onEvent(event: MemberEvent): void {
    if (event.kind === 'forgotten') this.onForgotten(event.id);
    else this.onMember(event.member);
  }

  /** A member's new state. */
  onMember(member: Member): void {
    const { before, tracked } = this.known.apply({ kind: 'member', member });
    if (!tracked) this.log.warn({ peer: member.id, state: member.state }, 'member table full of live members; event left out');
    else if (before?.state !== member.state) this.log[this.announced ? 'info' : 'debug']({ peer: member.id, address: member.address, incarnation: member.incarnation, state: member.state }, 'member');
    if (this.dynamic && tracked && member.id !== this.transport.self) {
      const address = parseHostPort(member.address);
      if (member.state === 'left') this.transport.removePeer(member.id);
      else if (address !== undefined) this.transport.addPeer({ id: member.id, ...address });
    }
    this.changed();
  }

  /** SWIM dropped a dead or left member from its table: so do the member table and the transport. */
  onForgotten(id: NodeId): void {
    const { before } = this.known.apply({ kind: 'forgotten', id });
    if (before !== undefined) this.log.debug({ peer: id, state: before.state }, 'member forgotten');
    if (this.dynamic && id !== this.transport.self) this.transport.removePeer(id);
    this.changed();
  }

  /** The node has started: member changes are info lines from now on. */
  started(): void {
    this.announced = true;
  }

  /** Something a waiter may be waiting for happened (a member event, a peer up). */
  changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Every member heard of, with its last state, sorted by id. */
  members(): Member[] {
    return [...this.known.values()].sort((a, b) => compareNodeIds(a.id, b.id));
  }

  /** Alive members other than this node. */
  aliveOthers(): NodeId[] {
    return this.members()
      .filter((m) => m.id !== this.transport.self && m.state === 'alive')
      .map((m) => m.id);
  }

  /** Resolves true once `check()` holds (tested now and on every change), false after `ms` or on `stop`. */
  waitFor(check: () => boolean, ms: number, stop: AbortSignal): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    if (stop.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (value: boolean): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        stop.removeEventListener('abort', onStop);
        resolve(value);
      };
      const listener = (): void => {
        if (check()) done(true);
      };
      const onStop = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.listeners.add(listener);
      stop.addEventListener('abort', onStop, { once: true });
    });
  }
}

export interface JoinIo {
  readonly driver: MembershipDriver;
  readonly transport: Pick<TcpTransport, 'self' | 'addPeer' | 'identify' | 'connectedPeers'>;
  readonly resolver: SeedResolver;
  /** Hands SWIM its join request. */
  requestJoin(seeds: readonly NodeId[]): void;
  readonly log: Logger;
  readonly stop: AbortSignal;
}

/**
 * Gets this node into a cluster through `entries` (see the top of the file). Resolves once another member is
 * alive, or with 'new-cluster' when the seeds are only this node, or 'stopped'.
 */
export async function joinCluster(entries: readonly SeedEntry[], io: JoinIo): Promise<'joined' | 'new-cluster' | 'stopped'> {
  const { driver, transport, log, stop } = io;
  const sleep = (ms: number): Promise<boolean> => driver.waitFor(() => false, ms, stop).then(() => !stop.aborted);
  for (let attempt = 1; !stop.aborted; attempt++) {
    const seeds = await findSeeds(entries, {
      resolver: io.resolver,
      identify: (host, port) => transport.identify(host, port),
      self: transport.self,
      onFailedRound: (round, reasons, retryInMs) => log.warn({ round, retryInMs, reasons: reasons.slice(0, 8) }, 'no seed answered; retrying'),
      sleep,
    });
    if (stop.aborted) return 'stopped';
    if (seeds.length === 0) {
      log.info({}, 'the seeds are only this node: starting a new cluster');
      return 'new-cluster';
    }
    for (const seed of seeds) transport.addPeer({ id: seed.id, host: seed.host, port: seed.port });
    const ids = seeds.map((s) => s.id);
    const backoff = joinRetryDelayMs(attempt);
    // A seed lower than this node dials it (woken by identify): the join can only be sent once it has.
    await driver.waitFor(() => transport.connectedPeers().some((id) => ids.includes(id)), backoff, stop);
    io.requestJoin(ids);
    log.info({ seeds: seeds.map((s) => `${s.id}@${formatHostPort(s.host, s.port)}`) }, 'joining through seeds');
    if (await driver.waitFor(() => driver.aliveOthers().length > 0, backoff, stop)) return 'joined';
  }
  return 'stopped';
}

/**
 * After SWIM marked this node left, it keeps gossiping that until the driver stops it: this long, a few gossip
 * rounds (each to gossipNodes members), as memberlist's Leave waits for its broadcast to go out.
 */
export const LEAVE_GOSSIP_WAIT_MS = 1_000;

/**
 * A graceful leave (membership/compose.ts): `requestLeave` hands the protocol `{membership: {op: 'leave'}}`; the
 * inner protocol hands off what it must and the leave is announced once its neighbours have that (at most
 * LEAVE_DRAIN_MAX_MS). Resolves, after LEAVE_GOSSIP_WAIT_MS more, whether membership reported this node left.
 */
export async function leaveGracefully(requestLeave: () => void, driver: MembershipDriver, stop: AbortSignal): Promise<boolean> {
  requestLeave();
  const hasLeft = (): boolean => driver.members().some((m) => m.id === driver.self && m.state === 'left');
  const left = await driver.waitFor(hasLeft, LEAVE_DRAIN_MAX_MS + LEAVE_GOSSIP_WAIT_MS, stop);
  if (left) await driver.waitFor(() => false, LEAVE_GOSSIP_WAIT_MS, stop);
  return left;
}
