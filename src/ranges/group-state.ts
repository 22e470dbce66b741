/**
 * The replicated state of key-range ownership, for every group at once, as one delta-state CRDT.
 *
 * Shape. A single library type, so that `encode`/`decode` and any generic delta anti-entropy work on it:
 *
 *   RangesCrdt = AWORMap<group, AWORMap<node, AWORMap<slot, AWORMap<field, MVRegister<PlainData>>>>>
 *
 *   slot 'member'        field 'joined'      → true           (the node joined the group)
 *   slot '<start>-<end>' field 'meta'        → meta           (how to reach the node for this range)
 *                        field 'p:<replica>' → safe integer   (that replica's running priority total)
 *
 * A registration (node, start, end) is present while its slot holds any dot: the slot keys of a node form the
 * add-wins OR-set of its registrations (an AWORMap's key set is an AWORSet). Its priority is the sum of the
 * `p:` fields: each writing replica keeps its running total under one dot, replaced on every change, and a
 * release drops every dot it observed. That is CCounter's design, spelled as a map of registers because an
 * AWORMap has one value type and a registration needs both a counter and a register (meta); the semantics are
 * CCounter's (README.md). The keys are canonical strings, parsed back on read.
 *
 * Writers. Every mutator takes the acting node (`by`) and only ever writes under that node's key, so a node
 * cannot touch another node's registrations or membership. Dots are generated under the actor's replica id,
 * which is the node id unless an incarnation is given (`actor(node, incarnation)`): a node that restarts
 * without its old state must use a fresh replica id, or its dots would collide with the ones it issued
 * before the crash (the old scalesmall "clock restarts at 0" problem). Concurrent writes to one registration
 * can therefore only come from two incarnations of its node; their semantics are below and in README.md.
 *
 * Semantics (all follow from AWORMap's add-wins observed-remove rule):
 * - join: writes a fresh membership dot (so join ∥ leave: join wins). A node is a member of a group while it
 *   holds anything in it (its membership or a registration).
 * - leave: removes everything the node holds in the group (observed-remove). Idempotent; a group with no
 *   member left vanishes from the state.
 * - register: new range → priority 1 and `meta`; registered range → updates meta only.
 * - increase: unregistered → registers with priority `amount` and meta null; registered → adds to the priority
 *   and rewrites the current meta, so that a registration surviving a concurrent release keeps its meta.
 * - decrease / increase leaving the observed priority ≤ 0 → releases (removes the slot).
 * - release: removes the slot (every observed dot). Idempotent.
 * - increase ∥ release: the increase's new dots were not observed by the release, so the registration stays,
 *   with the increasing replica's whole running total (CCounter's rule) and its meta. register ∥ release: the
 *   registration stays with its meta; priority is what the release had not seen (0 if it saw everything).
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
  DecodeError,
  MVRegister,
  type DecodeOptions,
  type PlainData,
  decode,
  encode,
  isPlainData,
} from '../crdt/index.js';
import { type KeyRange, checkRange, isRange, toPosition } from './key-space.js';
import { type Registration, Topology, compareServing } from './topology.js';
import type { NodeId } from '../core/ids.js';
import { replicaOf } from '../replication/replica-id.js';
import { absorbCausal } from '../replication/lattice.js';

// ------------------------------------------------------------------------------------------------- shape

/** A field of a slot: a multi-value register (one value unless two incarnations wrote concurrently). */
export type FieldCrdt = MVRegister<PlainData>;
/** One slot (membership or a registration) of a node: field → register. */
export type SlotCrdt = AWORMap<string, FieldCrdt>;
/** What one node holds in one group: slot → fields. */
export type NodeCrdt = AWORMap<string, SlotCrdt>;
/** One group: node → slots. */
export type GroupCrdt = AWORMap<string, NodeCrdt>;
/** The whole replicated state, and the type of every delta: group → nodes. */
export type RangesCrdt = AWORMap<string, GroupCrdt>;

/** An empty state (the bottom of the lattice); also the `like` factory for `decode`. */
export function emptyRanges(): RangesCrdt {
  return new AWORMap<string, GroupCrdt>(
    () =>
      new AWORMap<string, NodeCrdt>(
        () => new AWORMap<string, SlotCrdt>(() => new AWORMap<string, FieldCrdt>(() => new MVRegister<PlainData>())),
      ),
  );
}

/** Whether a delta changes nothing (no entries, no removals): such deltas need not be shipped. */
export function isEmptyDelta(delta: RangesCrdt): boolean {
  return delta.size === 0 && delta.context.isEmpty();
}

export const MEMBER_SLOT = 'member';
export const JOINED_FIELD = 'joined';
export const META_FIELD = 'meta';
export const PRIORITY_PREFIX = 'p:';

/** The slot key of a range: canonical decimal `start-end`. */
export function slotKey(start: number, end: number): string {
  return `${start}-${end}`;
}

const SLOT_PATTERN = /^(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})$/;

/** The range of a slot key, or undefined if the key is not a canonical valid range. */
export function parseSlot(key: unknown): KeyRange | undefined {
  if (typeof key !== 'string') return undefined;
  const match = SLOT_PATTERN.exec(key);
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return isRange(start, end) ? { start, end } : undefined;
}

function priorityField(replica: string): string {
  return PRIORITY_PREFIX + replica;
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

// ------------------------------------------------------------------------------------------ reading slots

/** A slot's meta: the first of its concurrent values (dot order, the same everywhere), null if none. */
function slotMeta(slot: SlotCrdt): PlainData {
  const values = slot.get(META_FIELD)?.value();
  return values === undefined || values.length === 0 ? null : (values[0] as PlainData);
}

/** One replica's running total: the value under its highest dot (it is the field's only writer). */
function contribution(field: FieldCrdt | undefined): number {
  if (field === undefined) return 0;
  const values = field.value();
  const last = values[values.length - 1];
  return typeof last === 'number' && Number.isSafeInteger(last) ? last : 0;
}

function slotPriority(slot: SlotCrdt): number {
  let sum = 0;
  for (const key of slot.keys()) {
    if (key.startsWith(PRIORITY_PREFIX)) sum += contribution(slot.get(key));
  }
  return sum;
}

// --------------------------------------------------------------------------------------------- the state

/**
 * A replica's view of every group. Mutators change this replica and return the delta to ship; `merge`
 * joins deltas or whole states received from others. The underlying CRDT is `crdt`: read and encode it, but
 * merge through `merge` (which also drops the cached topologies).
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
    return this.mutate(() =>
      this.state.update(group, (g) =>
        g.update(a.node, (n) => n.update(MEMBER_SLOT, (s) => s.update(JOINED_FIELD, (r) => r.write(a.replica, true)))),
      ),
    );
  }

  /** `by` leaves `group`: its membership and all its registrations there are released. Idempotent. */
  leave(by: ActorLike, group: string): RangesCrdt {
    const a = resolve(by);
    checkId(group, 'a group name');
    if (this.state.get(group)?.has(a.node) !== true) return emptyRanges();
    return this.mutate(() => this.state.update(group, (g) => g.remove(a.node)));
  }

  /**
   * `by` serves [start, end) in `group`, reachable through `meta` (plain data: an address, a port…).
   * A new registration gets priority 1; registering a range again updates its meta and keeps its priority.
   */
  register(by: ActorLike, group: string, start: number, end: number, meta: PlainData = null): RangesCrdt {
    const a = resolve(by);
    checkRange(start, end);
    if (!isPlainData(meta)) throw new TypeError('meta must be plain data (see src/crdt/data.ts)');
    this.requireMember(group, a.node);
    const key = slotKey(start, end);
    const registered = this.slot(group, a.node, key) !== undefined;
    return this.writeSlot(group, a.node, key, (s) => {
      const delta = s.update(META_FIELD, (r) => r.write(a.replica, meta));
      if (!registered) delta.join(s.update(priorityField(a.replica), (r) => r.write(a.replica, 1)));
      return delta;
    });
  }

  /** `by` stops serving [start, end) in `group`. A range it does not hold: empty delta. */
  release(by: ActorLike, group: string, start: number, end: number): RangesCrdt {
    const a = resolve(by);
    checkRange(start, end);
    this.requireGroup(group);
    const key = slotKey(start, end);
    if (this.slot(group, a.node, key) === undefined) return emptyRanges();
    return this.removeSlot(group, a.node, key);
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
    return this.change(a, group, slotKey(start, end), amount);
  }

  /**
   * Lowers `by`'s priority on [start, end) by `amount` (a positive safe integer); a priority brought to zero
   * or below releases the range. An unregistered range: empty delta.
   */
  decrease(by: ActorLike, group: string, start: number, end: number, amount: number): RangesCrdt {
    const a = resolve(by);
    checkRange(start, end);
    checkAmount(amount);
    this.requireGroup(group);
    const key = slotKey(start, end);
    if (this.slot(group, a.node, key) === undefined) return emptyRanges();
    return this.change(a, group, key, -amount);
  }

  private change(a: Actor, group: string, key: string, amount: number): RangesCrdt {
    const slot = this.slot(group, a.node, key);
    if (slot === undefined) {
      return this.writeSlot(group, a.node, key, (s) =>
        s.update(META_FIELD, (r) => r.write(a.replica, null)).join(s.update(priorityField(a.replica), (r) => r.write(a.replica, amount))),
      );
    }
    const total = slotPriority(slot) + amount;
    const own = contribution(slot.get(priorityField(a.replica))) + amount;
    if (!Number.isSafeInteger(total) || !Number.isSafeInteger(own)) {
      throw new RangeError('a priority would leave the safe integer range');
    }
    if (total <= 0) return this.removeSlot(group, a.node, key);
    const meta = slotMeta(slot);
    return this.writeSlot(group, a.node, key, (s) =>
      s.update(priorityField(a.replica), (r) => r.write(a.replica, own)).join(s.update(META_FIELD, (r) => r.write(a.replica, meta))),
    );
  }

  private writeSlot(group: string, node: string, key: string, fn: (slot: SlotCrdt) => SlotCrdt): RangesCrdt {
    return this.mutate(() => this.state.update(group, (g) => g.update(node, (n) => n.update(key, fn))));
  }

  private removeSlot(group: string, node: string, key: string): RangesCrdt {
    return this.mutate(() => this.state.update(group, (g) => g.update(node, (n) => n.remove(key))));
  }

  private mutate(fn: () => RangesCrdt): RangesCrdt {
    this.topologies.clear();
    return fn();
  }

  private requireGroup(group: string): GroupCrdt {
    checkId(group, 'a group name');
    const g = this.state.get(group);
    if (g === undefined) throw new UnknownGroupError(group);
    return g;
  }

  private requireMember(group: string, node: string): void {
    if (!this.requireGroup(group).has(node)) throw new NotMemberError(group, node);
  }

  private slot(group: string, node: string, key: string): SlotCrdt | undefined {
    return this.state.get(group)?.get(node)?.get(key);
  }

  // ---------------------------------------------------------------------------------------------- reads

  /** The groups this replica knows of (those with at least one member), sorted. */
  groups(): string[] {
    return [...this.state.keys()].sort();
  }

  hasGroup(group: string): boolean {
    return this.state.has(group);
  }

  /** The members of `group`, sorted: nodes that joined it or hold a registration in it. */
  members(group: string): string[] {
    return [...this.requireGroup(group).keys()].sort();
  }

  isMember(group: string, node: string): boolean {
    return this.state.get(group)?.has(node) === true;
  }

  /** Every registration in `group`, sorted by start, end, then serving order. */
  registrations(group: string): Registration[] {
    const g = this.requireGroup(group);
    const result: Registration[] = [];
    for (const node of g.keys()) {
      const n = g.get(node) as NodeCrdt;
      for (const key of n.keys()) {
        const range = parseSlot(key);
        if (range === undefined) continue; // the membership slot (or malformed input that skipped validation)
        const slot = n.get(key) as SlotCrdt;
        result.push({ node, start: range.start, end: range.end, priority: slotPriority(slot), meta: slotMeta(slot) });
      }
    }
    return result.sort((x, y) => x.start - y.start || x.end - y.end || compareServing(x, y));
  }

  /** One registration of `node`, or undefined if it does not hold [start, end) (or the group is unknown). */
  registration(group: string, node: string, start: number, end: number): Registration | undefined {
    checkRange(start, end);
    const slot = this.slot(group, node, slotKey(start, end));
    if (slot === undefined) return undefined;
    return { node, start, end, priority: slotPriority(slot), meta: slotMeta(slot) };
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

  /** The nodes serving `key` in `group`, best first: a string key is hashed, a number is a raw position. */
  lookup(group: string, key: string | number): readonly Registration[] {
    const position = toPosition(key);
    return this.topology(group).lookup(position);
  }
}

// -------------------------------------------------------------------------------------- decode, validate

/**
 * Throws DecodeError unless `state` has the shape of a ranges state: string group and node names, slot keys
 * that are `member` or a canonical valid range, `joined` fields holding true, `p:<replica>` fields holding
 * safe integers written only by that replica, and no other fields. Meant for input from peers.
 */
export function checkRanges(state: RangesCrdt): void {
  const fail = (message: string): never => {
    throw new DecodeError(`ranges state: ${message}`);
  };
  for (const group of state.keys()) {
    if (typeof group !== 'string' || group.length === 0) fail('a group name must be a non-empty string');
    const g = state.get(group) as GroupCrdt;
    for (const node of g.keys()) {
      if (typeof node !== 'string' || node.length === 0) fail('a node id must be a non-empty string');
      const n = g.get(node) as NodeCrdt;
      for (const key of n.keys()) {
        const slot = n.get(key) as SlotCrdt;
        const member = key === MEMBER_SLOT;
        if (!member && parseSlot(key) === undefined) fail(`bad slot key ${JSON.stringify(key)}`);
        for (const field of slot.keys()) {
          const values = (slot.get(field) as FieldCrdt).store.sorted();
          if (member) {
            if (field !== JOINED_FIELD) fail(`bad membership field ${JSON.stringify(field)}`);
            if (!values.every((v) => v.value === true)) fail('a membership field must hold true');
          } else if (typeof field === 'string' && field.startsWith(PRIORITY_PREFIX) && field.length > PRIORITY_PREFIX.length) {
            const replica = field.slice(PRIORITY_PREFIX.length);
            for (const v of values) {
              if (typeof v.value !== 'number' || !Number.isSafeInteger(v.value)) fail('a priority must be a safe integer');
              if (v.replica !== replica) fail(`priority field of ${replica} written by ${v.replica}`);
            }
          } else if (field !== META_FIELD) {
            fail(`bad registration field ${JSON.stringify(field)}`);
          }
        }
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
