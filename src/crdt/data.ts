/**
 * What CRDTs hold: keys (set elements, map keys) and values (register contents).
 *
 * Keys are strings or numbers: JS Maps compare them by value, and they encode exactly. Values are plain data
 * that the binary codec round-trips: null, undefined, booleans, numbers, bigints, strings, typed arrays,
 * arrays and plain objects, as a tree (no cycles, no shared references). Values are stored by reference and
 * must not be mutated after they are written.
 */
import { Packr } from 'msgpackr';

export type Key = string | number;

export type PlainData =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | ArrayBufferView
  | readonly PlainData[]
  | { readonly [field: string]: PlainData };

/**
 * The one codec instance. `moreTypes` keeps typed arrays intact; records (`useRecords`) are off because the
 * default record mode corrupts typed arrays on Node 20 and would make encodings depend on earlier encodings.
 */
export const packr = new Packr({ moreTypes: true, useRecords: false });

export function isKey(value: unknown): value is Key {
  return typeof value === 'string' || typeof value === 'number';
}

export function checkKey(value: unknown): asserts value is Key {
  if (!isKey(value)) throw new TypeError(`a key must be a string or a number, got ${typeof value}`);
}

export const MAX_DATA_DEPTH = 64;

/**
 * Whether `value` is plain data as defined above, at most `maxDepth` levels deep. Every object is visited
 * once: a second visit means a shared reference or a cycle (which a hostile encoding can produce), rejected.
 */
export function isPlainData(value: unknown, maxDepth = MAX_DATA_DEPTH): boolean {
  // Fast path for primitives (counter values, tags): no allocation.
  const type = typeof value;
  if (type !== 'object') {
    return type === 'undefined' || type === 'boolean' || type === 'number' || type === 'bigint' || type === 'string';
  }
  if (value === null) return true;
  const seen = new Set<object>();
  // An explicit stack, not recursion, so that depth is bounded by maxDepth and not by the JS stack.
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || item === undefined) continue;
    const type = typeof item;
    if (type === 'boolean' || type === 'number' || type === 'bigint' || type === 'string') continue;
    if (type !== 'object') return false;
    const object = item as object;
    if (seen.has(object)) return false;
    seen.add(object);
    if (ArrayBuffer.isView(object)) {
      if (object instanceof DataView) return false; // msgpackr does not round-trip DataView
      continue;
    }
    if (depth >= maxDepth) return false;
    if (Array.isArray(object)) {
      for (const element of object as unknown[]) stack.push([element, depth + 1]);
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) return false;
    // msgpackr renames an own "__proto__" field (against prototype pollution): it would not round-trip.
    if (Object.prototype.hasOwnProperty.call(object, '__proto__')) return false;
    for (const field of Object.keys(object)) stack.push([(object as Record<string, unknown>)[field], depth + 1]);
  }
  return true;
}

/**
 * Structural equality of plain data. Numbers compare as the codec sees them: NaN equals NaN and -0 equals 0
 * (msgpack has no -0 integer). Object field order does not matter.
 */
export function dataEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    if (a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!dataEquals(a[i], b[i])) return false;
    return true;
  }
  const fieldsA = Object.keys(a);
  const fieldsB = Object.keys(b);
  if (fieldsA.length !== fieldsB.length) return false;
  for (const field of fieldsA) {
    if (!Object.prototype.hasOwnProperty.call(b, field)) return false;
    if (!dataEquals((a as Record<string, unknown>)[field], (b as Record<string, unknown>)[field])) return false;
  }
  return true;
}

/** A total order on plain data (by encoded bytes), only to break exact ties deterministically. */
export function compareData(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const x = packr.pack(a);
  const y = packr.pack(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Deterministic order of keys: numbers (ascending, NaN last) before strings (code-unit order). */
export function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number') {
    if (typeof b !== 'number') return -1;
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1; // NaN last
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
