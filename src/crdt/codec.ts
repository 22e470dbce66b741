/**
 * Binary encoding of every CRDT state (full states and deltas alike), as msgpack.
 *
 *   [FORMAT, kind, replicas, body]
 *
 * `kind` is a small integer (a map is `[MAP, valueKind]`, a record `[RECORD, name, kind, name, kind, …]`
 * with at least one field, names non-empty, distinct and sorted), so a state decodes without a schema, nested
 * maps and records included. `replicas` lists each replica id once; the body refers to replicas by index.
 * Dots are flattened into number arrays (`[replica, counter, replica, counter, …]`). Bodies:
 *
 *   gcounter    [r, n, …]                 pncounter  [gcounterBody, gcounterBody]
 *   gset        [element, …]              lwwregister [] | [timestamp, r, value]
 *   causal      [store, vv, cloud]        vv [n, n, …]   cloud [ρ, counter, …]
 *   store       DotSet [ρ, c, …]   DotFun [ρ, c, value, …]   DotMap [key, store, …]
 *               DotRecord [store, …]  (one per field, in the kind's field order)
 *
 * Causal bodies are laid out for size (format 2), because states with many replicas are mostly replica
 * references. `vv[i]` is the counter of `replicas[i]` (0 for none, trailing zeros left out), so the vector
 * names no replica. A dot's replica ρ is written relative to the previous dot's, in the order the store and
 * then the cloud are written: ρ is the zigzag form (0, -1, 1, -2, … as 0, 1, 2, 3, …) of its index minus
 * the previous dot's (0 before the first dot). Replicas are numbered in order of first reference (store,
 * then the rest of the vector in code-unit order, then the cloud), so consecutive dots tend to refer to the
 * same or the next replica, and ρ takes one byte whatever the number of replicas. Format 1 wrote `vv` as
 * `[r, n, …]` pairs and every dot's replica as its index; the decoder still reads it, so that states a node
 * persisted before keep loading. The other bodies are the same in both formats. Records are new in format 2:
 * a format 1 input naming a record kind is rejected.
 *
 * Encodings are canonical: dots, keys, fields and replicas are written in a fixed order, so equal states
 * encode to equal bytes. Decoding validates everything (types, ranges, indices, no duplicates, no empty map
 * values, every stored dot inside the context and under one key or field, bounded nesting of maps and records)
 * and throws DecodeError on malformed input: bytes from the network never reach the types' invariants
 * unchecked (each type's `checkInvariants` states them).
 */
import { type Dot, CausalContext, dotKey } from './causal-context.js';
import { type CausalKind, type Kind, kindEquals, kindName } from './causal.js';
import { GCounter, PNCounter, CCounter } from './counters.js';
import { GSet } from './gset.js';
import { AWORSet } from './aworset.js';
import { RWORSet } from './rworset.js';
import { MVRegister, LWWRegister, type LWWWrite } from './registers.js';
import { EWFlag } from './ewflag.js';
import { AWORMap, type AnyCausal } from './awormap.js';
import { CausalRecord, DotRecord, type RecordFields } from './record.js';
import { DotFun, DotMap, DotSet } from './dot-store.js';
import { type Key, MAX_DATA_DEPTH, compareKeys, isKey, isPlainData, packr } from './data.js';

/** Any state this module encodes. */
export type AnyCrdt = GCounter | PNCounter | GSet<Key> | LWWRegister<unknown> | AnyCausal;

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

export interface DecodeOptions {
  /** Inputs longer than this are refused before parsing. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Deepest nesting of maps and records accepted (a set or counter is depth 0). Default 16. */
  readonly maxMapDepth?: number;
}

/** Format 2: causal bodies with aligned version vectors and relative dot replicas (format 1 had neither). */
export const FORMAT = 2;
/** The format before: still decoded (see the header). */
const FORMAT_1 = 1;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_MAP_DEPTH = 16;

const KIND_CODES = {
  gcounter: 1,
  pncounter: 2,
  gset: 3,
  lwwregister: 4,
  ccounter: 5,
  aworset: 6,
  rworset: 7,
  mvregister: 8,
  ewflag: 9,
} as const;
const MAP_CODE = 10;
const RECORD_CODE = 11;
const KIND_BY_CODE = new Map<number, Exclude<Kind, object>>(
  Object.entries(KIND_CODES).map(([name, code]) => [code, name as Exclude<Kind, object>]),
);

// ---------------------------------------------------------------------------------------------- encoding

class ReplicaTable {
  readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  /** The index of the replica of the last dot written (see `ref`). */
  private previous = 0;

  of(replica: string): number {
    let i = this.index.get(replica);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(replica);
      this.index.set(replica, i);
    }
    return i;
  }

  /** A dot's replica, relative to the previous dot's (zigzag), as the header describes. */
  ref(replica: string): number {
    const i = this.of(replica);
    const delta = i - this.previous;
    this.previous = i;
    return delta >= 0 ? 2 * delta : -2 * delta - 1;
  }
}

function encodeKind(kind: Kind): unknown {
  if (typeof kind !== 'object') return KIND_CODES[kind];
  if ('map' in kind) return [MAP_CODE, encodeKind(kind.map)];
  const parts: unknown[] = [RECORD_CODE];
  for (const [name, field] of kind.record) parts.push(name, encodeKind(field));
  return parts;
}

function checkValue(value: unknown): void {
  if (!isPlainData(value)) throw new TypeError('a register value must be plain data (see data.ts) to be encoded');
}

function encodeDots(dots: readonly Dot[], table: ReplicaTable): number[] {
  const flat: number[] = [];
  for (const dot of dots) flat.push(table.ref(dot.replica), dot.counter);
  return flat;
}

function encodeStore(store: unknown, table: ReplicaTable): unknown[] {
  if (store instanceof DotSet) {
    // Most dot sets hold one dot (an element added once): no sort, no intermediate array.
    if (store.size === 1) for (const dot of store.values()) return [table.ref(dot.replica), dot.counter];
    return encodeDots(store.sorted(), table);
  }
  if (store instanceof DotFun) {
    const flat: unknown[] = [];
    for (const entry of store.sorted() as { replica: string; counter: number; value: unknown }[]) {
      checkValue(entry.value);
      flat.push(table.ref(entry.replica), entry.counter, entry.value);
    }
    return flat;
  }
  if (store instanceof DotMap) {
    const map = store as DotMap<Key, DotSet>; // the value type only matters to the recursive call
    const entries = [...map.entriesIterator()].sort((a, b) => compareKeys(a[0], b[0]));
    const flat: unknown[] = [];
    for (const [key, sub] of entries) flat.push(key, encodeStore(sub, table));
    return flat;
  }
  if (store instanceof DotRecord) return store.names().map((name) => encodeStore(store.field(name), table));
  throw new TypeError('not a dot store');
}

/** Call after the store is encoded: the vector is aligned with the table, which the store starts. */
function encodeContext(context: CausalContext, table: ReplicaTable): [number[], number[]] {
  const versionVector = context.versionVector();
  for (const replica of [...versionVector.keys()].sort()) table.of(replica);
  const cloud = encodeDots(context.cloudDots(), table);
  const vv: number[] = [];
  // Stops at the last replica with an entry: the zeros after it are left out.
  let remaining = versionVector.size;
  for (const replica of table.ids) {
    if (remaining === 0) break;
    const top = versionVector.get(replica);
    if (top !== undefined) remaining--;
    vv.push(top ?? 0);
  }
  return [vv, cloud];
}

function encodeCounts(counter: GCounter, table: ReplicaTable): number[] {
  const flat: number[] = [];
  for (const replica of [...counter.entries().keys()].sort()) flat.push(table.of(replica), counter.get(replica));
  return flat;
}

/** Encodes a state or a delta. Throws TypeError if a register holds a value that is not plain data. */
export function encode(state: AnyCrdt): Uint8Array {
  const table = new ReplicaTable();
  let body: unknown;
  if (state instanceof GCounter) body = encodeCounts(state, table);
  else if (state instanceof PNCounter) {
    body = [encodeCounts(state.positive, table), encodeCounts(state.negative, table)];
  }
  else if (state instanceof GSet) body = [...state].sort(compareKeys);
  else if (state instanceof LWWRegister) {
    const w = state.winner;
    if (w === undefined) body = [];
    else {
      checkValue(w.value);
      body = [w.timestamp, table.of(w.replica), w.value];
    }
  } else {
    const store = encodeStore(state.store, table);
    const [vv, cloud] = encodeContext(state.context, table);
    body = [store, vv, cloud];
  }
  // The table is complete only once the body is built.
  return packr.pack([FORMAT, encodeKind(state.kind()), table.ids, body]);
}

// ---------------------------------------------------------------------------------------------- decoding

function fail(message: string): never {
  throw new DecodeError(message);
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) fail(`${what}: expected an array`);
  return value;
}

function tuples(value: unknown, width: number, what: string): unknown[] {
  const items = array(value, what);
  if (items.length % width !== 0) fail(`${what}: length ${items.length} is not a multiple of ${width}`);
  return items;
}

function positive(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(`${what}: expected a positive safe integer`);
  }
  return value;
}

function decodeKind(raw: unknown, depth: number, maxDepth: number): Kind {
  if (typeof raw === 'number') return KIND_BY_CODE.get(raw) ?? fail(`unknown kind ${raw}`);
  const parts = array(raw, 'kind');
  if (parts[0] === RECORD_CODE) return decodeRecordKind(parts, depth, maxDepth);
  if (parts.length !== 2 || parts[0] !== MAP_CODE) fail('malformed map kind');
  if (depth >= maxDepth) fail(`maps or records nested deeper than ${maxDepth}`);
  const value = decodeKind(parts[1], depth + 1, maxDepth);
  if (!isCausalKind(value)) fail(`a map cannot hold ${kindName(value)} values`);
  return { map: value };
}

/** `[RECORD, name, kind, …]`: at least one field, names non-empty, distinct and sorted, kinds causal. */
function decodeRecordKind(parts: readonly unknown[], depth: number, maxDepth: number): CausalKind {
  if (parts.length < 3 || parts.length % 2 !== 1) fail('malformed record kind');
  if (depth >= maxDepth) fail(`maps or records nested deeper than ${maxDepth}`);
  const fields: (readonly [string, CausalKind])[] = [];
  let previous: string | undefined;
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i];
    if (typeof name !== 'string' || name.length === 0) fail('record kind: a field name must be a non-empty string');
    if (previous !== undefined && !(previous < name)) fail('record kind: field names must be sorted and distinct');
    previous = name;
    const field = decodeKind(parts[i + 1], depth + 1, maxDepth);
    if (!isCausalKind(field)) fail(`a record cannot hold a ${kindName(field)} field`);
    fields.push([name, field]);
  }
  return { record: fields };
}

/** Whether a kind has a record in it (records are new in format 2). */
function hasRecord(kind: Kind): boolean {
  if (typeof kind !== 'object') return false;
  return 'map' in kind ? hasRecord(kind.map) : true;
}

function isCausalKind(kind: Kind): kind is CausalKind {
  return typeof kind === 'object' || !['gcounter', 'pncounter', 'gset', 'lwwregister'].includes(kind);
}

/** An empty instance of a causal kind. */
export function instantiate(kind: CausalKind): AnyCausal {
  if (typeof kind === 'object') {
    if ('map' in kind) return new AWORMap<Key, AnyCausal>(() => instantiate(kind.map));
    // fromEntries defines own properties: a field named __proto__ stays a field.
    const factories = Object.fromEntries(kind.record.map(([name, field]) => [name, () => instantiate(field)]));
    return new CausalRecord<RecordFields>(factories);
  }
  switch (kind) {
    case 'ccounter':
      return new CCounter();
    case 'aworset':
      return new AWORSet<Key>();
    case 'rworset':
      return new RWORSet<Key>();
    case 'mvregister':
      return new MVRegister<unknown>();
    case 'ewflag':
      return new EWFlag();
  }
}

class Reader {
  /** The index of the replica of the last dot read (see `ref`). */
  private previous = 0;

  /** `relative`: dots name replicas relative to the previous dot (format 2), or by index (format 1). */
  constructor(
    readonly replicas: readonly string[],
    readonly relative: boolean,
  ) {}

  replica(raw: unknown, what: string): string {
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw >= this.replicas.length) {
      fail(`${what}: bad replica index`);
    }
    return this.replicas[raw] as string;
  }

  /** A dot's replica, written relative to the previous dot's (see the header). */
  ref(raw: unknown, what: string): string {
    if (!this.relative) return this.replica(raw, what);
    if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) fail(`${what}: bad replica reference`);
    const index = this.previous + (raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2);
    if (index < 0 || index >= this.replicas.length) fail(`${what}: bad replica reference`);
    this.previous = index;
    return this.replicas[index] as string;
  }

  dots(raw: unknown, what: string): Dot[] {
    const flat = tuples(raw, 2, what);
    const dots: Dot[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      dots.push({ replica: this.ref(flat[i], what), counter: positive(flat[i + 1], `${what} counter`) });
    }
    return dots;
  }
}

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value);
const isTag = (value: unknown): boolean => typeof value === 'boolean';
const isValue = (value: unknown): boolean => isPlainData(value, MAX_DATA_DEPTH);

/** How values under dots of a DotFun are checked, by kind. */
function valueCheck(kind: CausalKind): (value: unknown) => boolean {
  switch (kind) {
    case 'ccounter':
      return isCount;
    case 'rworset':
      return isTag;
    default:
      return isValue;
  }
}

/** Whether the strings are distinct; without a Set for the few replicas of a typical message. */
function distinct(items: readonly string[]): boolean {
  if (items.length > 16) return new Set(items).size === items.length;
  for (let i = 1; i < items.length; i++) for (let j = 0; j < i; j++) if (items[i] === items[j]) return false;
  return true;
}

/**
 * Fills `into` (an empty store of the right shape, taken from an instance of `kind`) from `raw`.
 * Recursion depth is bounded by the map and record depth checked in decodeKind.
 */
function decodeStore(raw: unknown, into: unknown, kind: CausalKind, reader: Reader): void {
  if (into instanceof DotSet) {
    for (const dot of reader.dots(raw, 'dot set')) {
      const size = into.size;
      if (into.add(dot).size === size) fail('dot set: duplicate dot');
    }
  } else if (into instanceof DotFun) {
    const fun = into as DotFun<unknown>;
    const check = valueCheck(kind);
    const flat = tuples(raw, 3, 'dot function');
    for (let i = 0; i < flat.length; i += 3) {
      const dot: Dot = {
        replica: reader.ref(flat[i], 'dot function'),
        counter: positive(flat[i + 1], 'dot function counter'),
      };
      const value = flat[i + 2];
      if (!check(value)) fail(`dot function: bad value for ${kindName(kind)}`);
      if (fun.has(dot)) fail('dot function: duplicate dot');
      fun.set(dot, value);
    }
  } else if (into instanceof DotMap) {
    const map = into as DotMap<Key, DotSet>; // sub-store shapes are handled by the recursive call
    // A map's sub-stores are its values' stores, of kind `kind.map`. A set's sub-stores (dot sets of an
    // AWORSet, tag functions of an RWORSet) belong to the set itself: they keep its kind for valueCheck.
    let subKind: CausalKind = kind;
    if (typeof kind === 'object') subKind = 'map' in kind ? kind.map : fail('dot map: a record kind');
    const flat = tuples(raw, 2, 'dot map');
    for (let i = 0; i < flat.length; i += 2) {
      const key = flat[i];
      if (!isKey(key)) fail('dot map: a key must be a string or a number');
      if (map.has(key)) fail('dot map: duplicate key');
      const sub = map.emptyValue();
      decodeStore(flat[i + 1], sub, subKind, reader);
      if (sub.isEmpty()) fail('dot map: empty value');
      map.set(key, sub);
    }
  } else if (into instanceof DotRecord) {
    if (typeof kind !== 'object' || !('record' in kind)) fail('dot record: not a record kind');
    const names = into.names();
    const parts = array(raw, 'dot record');
    if (parts.length !== names.length || kind.record.length !== names.length) {
      fail(`dot record: expected ${names.length} fields, got ${parts.length}`);
    }
    // Fields in the kind's order, which is the store's (both sorted by name): dots are read in that order.
    for (let i = 0; i < names.length; i++) {
      const [name, fieldKind] = kind.record[i] as readonly [string, CausalKind];
      decodeStore(parts[i], into.field(name), fieldKind, reader);
    }
  } else {
    fail('unknown store shape');
  }
}

function decodeCounts(raw: unknown, reader: Reader): GCounter {
  const flat = tuples(raw, 2, 'counter');
  const entries: [string, number][] = [];
  const seen = new Set<string>();
  for (let i = 0; i < flat.length; i += 2) {
    const replica = reader.replica(flat[i], 'counter');
    if (seen.has(replica)) fail('counter: duplicate replica');
    seen.add(replica);
    entries.push([replica, positive(flat[i + 1], 'counter count')]);
  }
  return GCounter.fromEntries(entries);
}

/** A format 2 version vector, aligned with the replica table: entry i is replica i's counter, 0 for none. */
function alignedVector(raw: unknown, reader: Reader): [string, number][] {
  const counters = array(raw, 'version vector');
  if (counters.length > reader.replicas.length) fail('version vector: longer than the replica table');
  const vv: [string, number][] = [];
  for (let i = 0; i < counters.length; i++) {
    const top = counters[i];
    if (top === 0) continue;
    vv.push([reader.replicas[i] as string, positive(top, 'version vector counter')]);
  }
  return vv;
}

/** A format 1 version vector: `[r, n, …]` pairs. */
function pairedVector(raw: unknown, reader: Reader): [string, number][] {
  const flat = tuples(raw, 2, 'version vector');
  const vv: [string, number][] = [];
  const seen = new Set<string>();
  for (let i = 0; i < flat.length; i += 2) {
    const replica = reader.replica(flat[i], 'version vector');
    if (seen.has(replica)) fail('version vector: duplicate replica');
    seen.add(replica);
    vv.push([replica, positive(flat[i + 1], 'version vector counter')]);
  }
  return vv;
}

function decodeBody(kind: Kind, raw: unknown, reader: Reader, like: AnyCrdt | undefined): AnyCrdt {
  switch (kind) {
    case 'gcounter':
      return decodeCounts(raw, reader);
    case 'pncounter': {
      const parts = array(raw, 'pncounter');
      if (parts.length !== 2) fail('pncounter: expected two counters');
      return new PNCounter(decodeCounts(parts[0], reader), decodeCounts(parts[1], reader));
    }
    case 'gset': {
      const elements = array(raw, 'gset');
      if (!elements.every(isKey)) fail('gset: an element must be a string or a number');
      const set = GSet.of(elements as Key[]);
      if (set.size !== elements.length) fail('gset: duplicate element');
      return set;
    }
    case 'lwwregister': {
      const parts = array(raw, 'lwwregister');
      if (parts.length === 0) return new LWWRegister<unknown>();
      if (parts.length !== 3) fail('lwwregister: expected [] or [timestamp, replica, value]');
      const [timestamp, replica, value] = parts;
      if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) fail('lwwregister: bad timestamp');
      if (!isPlainData(value, MAX_DATA_DEPTH)) fail('lwwregister: value is not plain data');
      const write: LWWWrite<unknown> = { timestamp, replica: reader.replica(replica, 'lwwregister'), value };
      return new LWWRegister<unknown>(write);
    }
    default: {
      const parts = array(raw, 'causal state');
      if (parts.length !== 3) fail('causal state: expected [store, vv, cloud]');
      const template = (like as AnyCausal | undefined) ?? instantiate(kind);
      const store = template.store.empty();
      decodeStore(parts[0], store, kind, reader);
      const vv = reader.relative ? alignedVector(parts[1], reader) : pairedVector(parts[1], reader);
      const context = CausalContext.fromParts(vv, reader.dots(parts[2], 'cloud'));
      // A dot names one event, so it lies under one key or field: a map or record has no other check of that
      // (a dot set or function rejects its own duplicates), and the join and owner index rely on it.
      const held = store instanceof DotSet || store instanceof DotFun ? undefined : new Set<string>();
      store.forEachDot((dot: Dot) => {
        if (!context.has(dot)) fail(`store holds dot ${dot.replica}:${dot.counter} outside its context`);
        if (held === undefined) return;
        const key = dotKey(dot.replica, dot.counter);
        if (held.has(key)) fail(`store holds dot ${dot.replica}:${dot.counter} twice`);
        held.add(key);
      });
      return template.make(store, context) as AnyCausal;
    }
  }
}

/**
 * Decodes a state. With `like` (a factory of an empty instance, such as the one given to an AWORMap), the
 * encoded kind must match its kind and the result has its type (a map keeps `like`'s value factory).
 * Element, key and value types beyond the CRDT shape are not checked: validate them if the input is
 * untrusted (keys are strings or numbers, values are plain data).
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): AnyCrdt;
export function decode<T extends AnyCrdt>(bytes: Uint8Array, like: () => T, options?: DecodeOptions): T;
export function decode(
  bytes: Uint8Array,
  likeOrOptions?: (() => AnyCrdt) | DecodeOptions,
  maybeOptions?: DecodeOptions,
): AnyCrdt {
  const like = typeof likeOrOptions === 'function' ? likeOrOptions : undefined;
  const options = (typeof likeOrOptions === 'function' ? maybeOptions : likeOrOptions) ?? {};
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxMapDepth = options.maxMapDepth ?? DEFAULT_MAX_MAP_DEPTH;
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('expected a Uint8Array');
  if (bytes.length > maxBytes) throw new DecodeError(`input of ${bytes.length} bytes exceeds the limit of ${maxBytes}`);
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (error) {
    // Truncated or invalid msgpack, or nesting deep enough to exhaust the stack (a RangeError).
    throw new DecodeError(`not a valid encoding: ${(error as Error).message}`, { cause: error });
  }
  const top = array(raw, 'state');
  if (top.length !== 4) fail('state: expected [format, kind, replicas, body]');
  if (top[0] !== FORMAT && top[0] !== FORMAT_1) fail(`unsupported format ${String(top[0])}`);
  const kind = decodeKind(top[1], 0, maxMapDepth);
  if (top[0] === FORMAT_1 && hasRecord(kind)) fail('records are new in format 2');
  const replicas = array(top[2], 'replicas');
  if (!replicas.every((r) => typeof r === 'string' && r.length > 0)) fail('replicas: expected non-empty strings');
  if (!distinct(replicas as string[])) fail('replicas: duplicate id');
  const template = like?.();
  if (template !== undefined && !kindEquals(template.kind(), kind)) {
    fail(`expected a ${kindName(template.kind())}, got a ${kindName(kind)}`);
  }
  try {
    return decodeBody(kind, top[3], new Reader(replicas as string[], top[0] === FORMAT), template);
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    // The types' own checks (RangeError, TypeError) reject what slipped past the structural ones.
    throw new DecodeError(`invalid state: ${(error as Error).message}`, { cause: error });
  }
}
