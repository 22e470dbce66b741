/**
 * The replicated state of key-range ownership, for every group at once, as one delta-state CRDT.
 *
 * Shape. Each group is one record of four CRDTs from the library sharing one causal context (a CausalRecord):
 *
 *   RangesCrdt = AWORMap<group, GroupCrdt>
 *   GroupCrdt  = CausalRecord {
 *     members:       AWORSet<node>                          nodes that joined the group
 *     registrations: AWORSet<registration>                  registration = (node, start, end)
 *     priorities:    AWORMap<registration, CCounter>        each registration's priority
 *     meta:          AWORMap<registration, MVRegister>      how to reach the node for that range
 *   }
 *
 * A registration is written as the key `<start>-<end>@<node>` (canonical decimals; parsed back on read). It is
 * present while it is in `registrations`; its priority is its counter's value (0 if none) and its meta the first
 * value of its register (null if none). The fields share one context, so a release (observed-remove of the key
 * from all three) and a concurrent write to any one of them resolve as one add-wins decision.
 *
 * Writers. Every mutator takes the acting node (`by`) and only writes its own membership and registrations, so
 * a node cannot touch another node's. Dots are generated under the actor's replica id, which is the node id
 * unless an incarnation is given (`actor(node, incarnation)`): a node that restarts without its old state must
 * use a fresh replica id, or its dots would collide with the ones it issued before the crash (the old scalesmall
 * "clock restarts at 0" problem). `checkRanges` refuses input where a dot under a node's entry was made by
 * another node's replica.
 *
 * Semantics (all follow from add-wins observed-remove; see README.md):
 * - join: adds the node to `members` with a fresh dot (so join ∥ leave: join wins). A node is a member of a
 *   group while it is in `members` or holds a registration there.
 * - leave: removes the node from `members` and every registration it holds in the group (observed-remove).
 *   Idempotent; a group with no member left vanishes from the state.
 * - register: adds the registration with a fresh dot and writes its meta; a new registration gets priority 1, a
 *   registered one keeps its priority.
 * - increase: unregistered → registers with priority `amount` and meta null; registered → adds `amount` to this
 *   replica's share of the counter. Either way it re-adds the registration and rewrites its current meta, so
 *   that a registration surviving a concurrent release keeps its meta.
 * - decrease / increase leaving the observed priority ≤ 0 → releases.
 * - release: removes the registration from all three fields (every observed dot). Idempotent.
 * - increase ∥ release: the increase's new dots were not observed by the release, so the registration stays,
 *   with the increasing replica's whole running total (CCounter's rule) and its meta. register ∥ release: the
 *   registration stays with its meta; its priority is what the release had not seen (0 if it saw everything).
 *   register ∥ leave: the registration stays, and the node stays a member through it.
 * A present registration is served whatever its priority (≤ 0 only arises from such races), sorted by it.
 *
 * Errors: reads and adding writes (register, increase) on a group absent from this replica throw
 * UnknownGroupError; register/increase by a non-member throw NotMemberError; release and decrease of an
 * unknown group throw UnknownGroupError, of a range the node does not hold return an empty delta.
 *
 * Bounded state: removals leave no tombstones (dots stay only in the compact causal context). What remains
 * forever is one version-vector entry per replica id that ever wrote (about the id's length + 5 bytes).
 */
import {
  AWORMap,
  AWORSet,
  CCounter,
  CausalRecord,
  DecodeError,
  dataEquals,
  MVRegister,
  type DecodeOptions,
  type PlainData,
  decode,
  encode,
  isPlainData,
} from '../crdt/index.js';
import type { Dot } from '../crdt/causal-context.js';
import { type KeyRange, checkRange, isRange, toPosition } from './key-space.js';
import { type Registration, type Subrange, Topology, compareServing } from './topology.js';
import { AssertionError, assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { replicaOf } from '../replication/replica-id.js';
import { absorbCausal } from '../replication/lattice.js';

// ------------------------------------------------------------------------------------------------- shape

/** The fields of one group. */
export type GroupFields = {
  readonly members: AWORSet<string>;
  readonly registrations: AWORSet<string>;
  readonly priorities: AWORMap<string, CCounter>;
  readonly meta: AWORMap<string, MVRegister<PlainData>>;
};
/** One group. */
export type GroupCrdt = CausalRecord<GroupFields>;
/** The whole replicated state, and the type of every delta: group → its record. */
export type RangesCrdt = AWORMap<string, GroupCrdt>;

/** An empty group (also the value factory of the state's map). */
export function emptyGroup(): GroupCrdt {
  return new CausalRecord<GroupFields>({
    members: () => new AWORSet<string>(),
    registrations: () => new AWORSet<string>(),
    priorities: () => new AWORMap<string, CCounter>(() => new CCounter()),
    meta: () => new AWORMap<string, MVRegister<PlainData>>(() => new MVRegister<PlainData>()),
  });
}

/** An empty state (the bottom of the lattice); also the `like` factory for `decode`. */
export function emptyRanges(): RangesCrdt {
  return new AWORMap<string, GroupCrdt>(emptyGroup);
}

/** Whether a delta changes nothing (no entries, no removals): such deltas need not be shipped. */
export function isEmptyDelta(delta: RangesCrdt): boolean {
  return delta.size === 0 && delta.context.isEmpty();
}

/** The key of node's registration of [start, end): `<start>-<end>@<node>`, canonical decimals. */
export function registrationKey(node: string, start: number, end: number): string {
  return `${start}-${end}@${node}`;
}

const KEY_PATTERN = /^(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})@([^]+)$/;

/** The node and range of a registration key, or undefined if the key is not canonical or the range invalid. */
export function parseRegistrationKey(key: unknown): (KeyRange & { readonly node: string }) | undefined {
  if (typeof key !== 'string') return undefined;
  const match = KEY_PATTERN.exec(key);
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return isRange(start, end) ? { node: match[3] as string, start, end } : undefined;
}

// ------------------------------------------------------------------------------------------ actors, errors

/** Who writes: the node that owns what is written, and the replica id its dots are generated under. */
export interface Actor {
  readonly node: string;
  readonly replica: string;
}

/** A node id (its own replica id) or an explicit actor. */
export type ActorLike = string | Actor;

/**
 * The actor of a node's incarnation, with the project's one spelling of replica ids (replication/replica-id.ts).
 * Use a new incarnation (a start timestamp) whenever a node starts, so that even a node that lost its store
 * never reuses a dot.
 */
export function actor(node: string, incarnation?: number): Actor {
  checkId(node, 'a node id');
  return { node, replica: incarnation === undefined ? node : replicaOf(node as NodeId, incarnation) };
}

function resolve(by: ActorLike): Actor {
  if (typeof by === 'string') {
    checkId(by, 'a node id');
    return { node: by, replica: by };
  }
  checkId(by.node, 'a node id');
  checkId(by.replica, 'a replica id');
  return by;
}

function checkId(id: unknown, what: string): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError(`${what} must be a non-empty string`);
}

function checkAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount < 1) {
    throw new RangeError(`a priority change must be a positive safe integer, got ${String(amount)}`);
  }
}

/** The group is not in this replica's state (nobody joined it, or this replica has not heard yet). */
export class UnknownGroupError extends Error {
  override readonly name = 'UnknownGroupError';
  constructor(readonly group: string) {
    super(`unknown group ${JSON.stringify(group)}`);
  }
}

/** The acting node must join the group before registering in it. */
export class NotMemberError extends Error {
  override readonly name = 'NotMemberError';
  constructor(
    readonly group: string,
    readonly node: string,
  ) {
    super(`node ${JSON.stringify(node)} is not a member of group ${JSON.stringify(group)}: join it first`);
  }
}

// ------------------------------------------------------------------------------------------ reading a group

/** A registration's meta: the first of its concurrent values (dot order, the same everywhere), null if none. */
function metaOf(group: GroupCrdt, key: string): PlainData {
  const values = group.get('meta').get(key)?.value();
  return values === undefined || values.length === 0 ? null : (values[0] as PlainData);
}

function priorityOf(group: GroupCrdt, key: string): number {
  return group.get('priorities').get(key)?.value() ?? 0;
}

// --------------------------------------------------------------------------------------------- the state

/**
 * A replica's view of every group. Mutators change this replica and return the delta to ship; `merge`
 * joins deltas or whole states received from others. The underlying CRDT is `crdt`: read and encode it, but
 * merge through `merge` or `absorb` (which also drop the cached topologies).
 */
export class GroupState {
  private readonly state: RangesCrdt;
  private readonly topologies = new Map<string, Topology>();

  /** Wraps `state` (taken over, not copied): an empty state by default, or a decoded one. */
  constructor(state: RangesCrdt = emptyRanges()) {
    this.state = state;
  }

  /** Decodes and validates a whole state (see `decodeRanges`). */
  static decode(bytes: Uint8Array, options?: DecodeOptions): GroupState {
    return new GroupState(decodeRanges(bytes, options));
  }

  /** The replicated state itself (do not mutate it; merge through `merge`). */
  get crdt(): RangesCrdt {
    return this.state;
  }

  encode(): Uint8Array {
    return encode(this.state);
  }

  /** Joins a delta or a whole state (another replica's, or a decoded one) into this one. */
  merge(other: RangesCrdt | GroupState): this {
    this.state.join(other instanceof GroupState ? other.state : other);
    this.topologies.clear();
    return this;
  }

  /** Joins a delta and returns the part of it that was new (see `absorbCausal`), or null if it held nothing new. */
  absorb(delta: RangesCrdt): RangesCrdt | null {
    const novel = absorbCausal(this.state, delta);
    if (novel !== null) this.topologies.clear();
    return novel;
  }

  clone(): GroupState {
    return new GroupState(this.state.clone());
  }

  /** Equality of whole states, causal context included. */
  equals(other: GroupState): boolean {
    return this.state.equals(other.state);
  }

  // --------------------------------------------------------------------------------------------- writes

  /** `by` joins `group` (creating it if needed). Always writes a fresh membership dot. */
  join(by: ActorLike, group: string): RangesCrdt {
    const a = resolve(by);
    checkId(group, 'a group name');
    return this.write(group, (g) => g.update('members', (m) => m.add(a.replica, a.node)));
  }

  /** `by` leaves `group`: its membership and all its registrations there are released. Idempotent. */
  leave(by: ActorLike, group: string): RangesCrdt {
    const a = resolve(by);
    checkId(group, 'a group name');
    const g = this.state.get(group);
    if (g === undefined) return emptyRanges();
    const keys = [...tracesOf(g)].filter((key) => parseRegistrationKey(key)?.node === a.node);
    if (keys.length === 0 && !g.get('members').has(a.node)) return emptyRanges();
    return this.write(group, (rec) => {
      const delta = rec.update('members', (m) => m.remove(a.node));
      for (const key of keys) delta.join(removeRegistration(rec, key));
      return delta;
    });
  }

  /**
   * `by` serves [start, end) in `group`, reachable through `meta` (plain data: an address, a port…).
   * A new registration gets priority 1; registering a range again updates its meta and keeps its priority.
   */
  register(by: ActorLike, group: string, start: number, end: number, meta: PlainData = null): RangesCrdt {
    const a = resolve(by);
    checkRange(start, end);
    if (!isPlainData(meta)) throw new TypeError('meta must be plain data (see src/crdt/data.ts)');
    const key = registrationKey(a.node, start, end);
    const registered = this.requireMember(group, a.node).get('registrations').has(key);
    return this.write(group, (g) => {
      const delta = addRegistration(g, a.replica, key, meta);
      if (!registered) delta.join(startPriority(g, a.replica, key, 1));
      return delta;
    });
  }

  /** `by` stops serving [start, end) in `group`. A range it does not hold: empty delta. */
  release(by: ActorLike, group: string, start: number, end: number): RangesCrdt {
    const a = resolve(by);
    checkRange(start, end);
    const g = this.requireGroup(group);
    const key = registrationKey(a.node, start, end);
    if (!tracesOf(g).has(key)) return emptyRanges();
    return this.write(group, (rec) => removeRegistration(rec, key));
  }

  /**
   * Raises `by`'s priority on [start, end) by `amount` (a positive safe integer). An unregistered range is
   * registered with priority `amount` and meta null.
   */
  increase(by: ActorLike, group: string, start: number, end: number, amount: number): RangesCrdt {
    const a = resolve(by);
    checkRange(start, end);
    checkAmount(amount);
    this.requireMember(group, a.node);
    return this.change(a, group, registrationKey(a.node, start, end), amount);
  }

  /**
   * Lowers `by`'s priority on [start, end) by `amount` (a positive safe integer); a priority brought to zero
   * or below releases the range. An unregistered range: empty delta.
   */
  decrease(by: ActorLike, group: string, start: number, end: number, amount: number): RangesCrdt {
    const a = resolve(by);
    checkRange(start, end);
    checkAmount(amount);
    const g = this.requireGroup(group);
    const key = registrationKey(a.node, start, end);
    if (!g.get('registrations').has(key)) return emptyRanges();
    return this.change(a, group, key, -amount);
  }

  private change(a: Actor, group: string, key: string, amount: number): RangesCrdt {
    const g = this.state.get(group);
    assert(g !== undefined, 'ranges: a priority change in a group its caller did not require');
    const registered = g.get('registrations').has(key);
    const total = (registered ? priorityOf(g, key) : 0) + amount;
    if (!Number.isSafeInteger(total)) throw new RangeError('a priority would leave the safe integer range');
    if (registered && total <= 0) return this.write(group, (rec) => removeRegistration(rec, key));
    const meta = registered ? metaOf(g, key) : null;
    return this.write(group, (rec) => {
      const delta = addRegistration(rec, a.replica, key, meta);
      delta.join(registered ? rec.update('priorities', (p) => p.update(key, (c) => c.increment(a.replica, amount))) : startPriority(rec, a.replica, key, amount));
      return delta;
    });
  }

  private write(group: string, fn: (g: GroupCrdt) => GroupCrdt): RangesCrdt {
    this.topologies.clear();
    return this.state.update(group, fn);
  }

  private requireGroup(group: string): GroupCrdt {
    checkId(group, 'a group name');
    const g = this.state.get(group);
    if (g === undefined || !hasMember(g)) throw new UnknownGroupError(group);
    return g;
  }

  private requireMember(group: string, node: string): GroupCrdt {
    const g = this.requireGroup(group);
    if (!this.isMember(group, node)) throw new NotMemberError(group, node);
    return g;
  }

  // ---------------------------------------------------------------------------------------------- reads

  /** The groups this replica knows of (those with at least one member), sorted. */
  groups(): string[] {
    return [...this.state.keys()].filter((group) => hasMember(this.state.get(group)!)).sort();
  }

  hasGroup(group: string): boolean {
    const g = this.state.get(group);
    return g !== undefined && hasMember(g);
  }

  /** The members of `group`, sorted: nodes that joined it or hold a registration in it. */
  members(group: string): string[] {
    const g = this.requireGroup(group);
    const members = new Set(g.get('members'));
    for (const key of g.get('registrations')) {
      const parsed = parseRegistrationKey(key);
      if (parsed !== undefined) members.add(parsed.node);
    }
    return [...members].sort();
  }

  isMember(group: string, node: string): boolean {
    const g = this.state.get(group);
    if (g === undefined) return false;
    if (g.get('members').has(node)) return true;
    for (const key of g.get('registrations')) if (parseRegistrationKey(key)?.node === node) return true;
    return false;
  }

  /** Every registration in `group`, sorted by start, end, then serving order. */
  registrations(group: string): Registration[] {
    const g = this.requireGroup(group);
    const result: Registration[] = [];
    for (const key of g.get('registrations')) {
      const parsed = parseRegistrationKey(key);
      if (parsed === undefined) continue; // only input that skipped validation
      result.push({ node: parsed.node, start: parsed.start, end: parsed.end, priority: priorityOf(g, key), meta: metaOf(g, key) });
    }
    return result.sort((x, y) => x.start - y.start || x.end - y.end || compareServing(x, y));
  }

  /** One registration of `node`, or undefined if it does not hold [start, end) (or the group is unknown). */
  registration(group: string, node: string, start: number, end: number): Registration | undefined {
    checkRange(start, end);
    const g = this.state.get(group);
    const key = registrationKey(node, start, end);
    if (g === undefined || !g.get('registrations').has(key)) return undefined;
    return { node, start, end, priority: priorityOf(g, key), meta: metaOf(g, key) };
  }

  /** The subranges of `group` with their nodes, best first (cached until the state changes). */
  topology(group: string): Topology {
    let topology = this.topologies.get(group);
    if (topology === undefined) {
      topology = Topology.derive(this.registrations(group));
      this.topologies.set(group, topology);
    }
    return topology;
  }

  /**
   * Asserts the replica's invariants: the CRDT's own (src/crdt/README.md, "Invariants"); the shape `checkRanges`
   * demands of input, since every part of the state was either input checked so or written here; and the cached
   * topologies: only of groups this replica knows, each consistent and equal to a fresh derivation (a write that
   * forgot to drop the cache would answer lookups from before it). O(state + R log R per cached group): for tests,
   * the simulator and debug runs.
   */
  checkInvariants(): void {
    this.state.checkInvariants();
    checkShape(this.state, (message) => {
      throw new AssertionError(`ranges: ${message}`);
    });
    for (const [group, topology] of this.topologies) {
      assert(this.hasGroup(group), 'ranges: a topology cached for a group this replica does not know');
      topology.checkInvariants();
      assert(sameTopology(topology, Topology.derive(this.registrations(group))), 'ranges: a cached topology differs from the registrations');
    }
  }

  /** The nodes serving `key` in `group`, best first: a string key is hashed, a number is a raw position. */
  lookup(group: string, key: string | number): readonly Registration[] {
    const position = toPosition(key);
    return this.topology(group).lookup(position);
  }
}

/** Whether two topologies have the same subranges, served by the same registrations in the same order. */
function sameTopology(a: Topology, b: Topology): boolean {
  if (a.subranges.length !== b.subranges.length) return false;
  return a.subranges.every((s, i) => {
    const t = b.subranges[i] as Subrange;
    if (s.start !== t.start || s.end !== t.end || s.nodes.length !== t.nodes.length) return false;
    return s.nodes.every((r, k) => {
      const q = t.nodes[k] as Registration;
      return r.node === q.node && r.start === q.start && r.end === q.end && r.priority === q.priority && dataEquals(r.meta, q.meta);
    });
  });
}

/** (Re-)adds a registration under a fresh dot and writes its meta: the delta, on the group's record. */
function addRegistration(group: GroupCrdt, replica: string, key: string, meta: PlainData): GroupCrdt {
  const delta = group.update('registrations', (r) => r.add(replica, key));
  delta.join(group.update('meta', (m) => m.update(key, (r) => r.write(replica, meta))));
  return delta;
}

/**
 * A new registration's priority: this replica's contribution, after dropping any stale counter entries of the
 * key (see `tracesOf`), which would otherwise add to it.
 */
function startPriority(group: GroupCrdt, replica: string, key: string, amount: number): GroupCrdt {
  const delta = group.update('priorities', (p) => p.remove(key));
  delta.join(group.update('priorities', (p) => p.update(key, (c) => c.increment(replica, amount))));
  return delta;
}

/** Whether the group has a member: a node in `members`, or one holding a registration. */
function hasMember(group: GroupCrdt): boolean {
  return group.get('members').size > 0 || group.get('registrations').size > 0;
}

/**
 * Every registration key the group holds anything under: its registrations, plus counter or meta entries left
 * without one. Those arise when deltas arrive out of causal order: a release that saw a later write of the
 * registration but not an earlier priority change removes everything it saw, then the earlier change arrives.
 * They are invisible to reads (a registration is present only while in `registrations`), and the owner's next
 * release, leave or new registration of that range removes them.
 */
function tracesOf(group: GroupCrdt): Set<string> {
  const keys = new Set<string>(group.get('registrations'));
  for (const key of group.get('priorities').keys()) keys.add(key);
  for (const key of group.get('meta').keys()) keys.add(key);
  return keys;
}

/** Removes a registration from every field (each observed dot): the delta, on the group's record. */
function removeRegistration(group: GroupCrdt, key: string): GroupCrdt {
  const delta = group.update('registrations', (r) => r.remove(key));
  delta.join(group.update('priorities', (p) => p.remove(key)));
  delta.join(group.update('meta', (m) => m.remove(key)));
  return delta;
}

// -------------------------------------------------------------------------------------- decode, validate

/** Whether `replica` is one of `node`'s replica ids (see replication/replica-id.ts). */
function isReplicaOf(replica: string, node: string): boolean {
  return replica === node || (replica.startsWith(node) && replica[node.length] === '~');
}

/**
 * Throws DecodeError unless `state` has the shape of a ranges state: non-empty string group and member names,
 * canonical registration keys with valid ranges, and every dot under a node's membership or registration made
 * by one of that node's replicas (a node writes only its own). Meant for input from peers; the codec has
 * already checked the kinds, so counters hold safe integers and registers plain data.
 */
export function checkRanges(state: RangesCrdt): void {
  checkShape(state, (message) => {
    throw new DecodeError(`ranges state: ${message}`);
  });
}

/** The walk of `checkRanges`, failing through `fail`: input is refused with a DecodeError, a broken invariant asserts. */
function checkShape(state: RangesCrdt, fail: (message: string) => never): void {
  const ownDots = (node: string, what: string) => (dot: Dot) => {
    if (!isReplicaOf(dot.replica, node)) fail(`${what} of ${JSON.stringify(node)} written by ${JSON.stringify(dot.replica)}`);
  };
  for (const name of state.keys()) {
    if (typeof name !== 'string' || name.length === 0) fail('a group name must be a non-empty string');
    const group = state.get(name)!;
    const members = group.get('members');
    for (const node of members) {
      if (typeof node !== 'string' || node.length === 0) fail('a member must be a non-empty string');
      members.store.get(node)?.forEachDot(ownDots(node, 'membership'));
    }
    const registrations = group.get('registrations');
    for (const key of registrations) {
      const parsed = parseRegistrationKey(key) ?? fail(`bad registration key ${JSON.stringify(key)}`);
      registrations.store.get(key)?.forEachDot(ownDots(parsed.node, 'a registration'));
    }
    for (const field of ['priorities', 'meta'] as const) {
      const map = group.get(field);
      for (const key of map.keys()) {
        const parsed = parseRegistrationKey(key) ?? fail(`bad ${field} key ${JSON.stringify(key)}`);
        map.store.get(key)?.forEachDot(ownDots(parsed.node, `the ${field} of a registration`));
      }
    }
  }
}

/** Decodes a ranges state or delta with the library codec, then checks its shape (`checkRanges`). */
export function decodeRanges(bytes: Uint8Array, options?: DecodeOptions): RangesCrdt {
  const state = decode(bytes, emptyRanges, options);
  checkRanges(state);
  return state;
}

/** Encodes a ranges state or delta (the library codec; canonical bytes). */
export function encodeRanges(state: RangesCrdt): Uint8Array {
  return encode(state);
}
