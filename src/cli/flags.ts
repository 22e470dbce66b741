/**
 * The flag library every subcommand parses with: each validator takes the raw string commander handed over and
 * names the flag in its UsageError, so every bad flag is one line saying which flag, what was expected and what
 * was given. Pure, and cheap to load: it imports no protocol, transport or runtime code.
 */
import { GOSSIP_PRESETS, type GossipPreset } from '../broadcast/gossip-presets.js';
import type { OptionValues } from './command.js';
import { UsageError, quote } from '../platform/user-errors.js';

/** Durations above a day are certainly mistakes, and timers overflow at 2^31 ms (24.8 days) anyway. */
const MAX_SECONDS = 86_400;

/** A value flag's string, or undefined when it was not given. */
export function stringOption(opts: OptionValues, key: string, flag: string): string | undefined {
  const value = opts[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError(`${flag}: expected a value`);
  return value;
}

/** A switch: true when given. */
export function flagOption(opts: OptionValues, key: string): boolean {
  return opts[key] === true;
}

/** A file or directory name: given, it must not be empty (an empty name would mean the current directory). */
export function pathOption(opts: OptionValues, key: string, flag: string, what: 'file' | 'directory' = 'file'): string | undefined {
  const value = stringOption(opts, key, flag);
  if (value === '') throw new UsageError(`${flag}: expected a ${what} name, got ""`);
  return value;
}

export function parsePort(flag: string, raw: string): number {
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    throw new UsageError(`${flag}: expected a port number 1..65535, got ${quote(raw)}`);
  }
  return Number(raw);
}

export function parseHost(flag: string, raw: string): string {
  if (raw.length === 0 || /[\s\u0000-\u001f\u007f]/.test(raw)) {
    throw new UsageError(`${flag}: expected a host name or IP address, got ${quote(raw)}`);
  }
  return raw;
}

/** Seconds as a decimal number (fractions allowed, no exponents), returned in whole milliseconds. */
export function parseSeconds(flag: string, raw: string, allowZero: boolean): number {
  const expected = `expected a number of seconds ${allowZero ? '≥ 0' : '> 0'} and ≤ ${MAX_SECONDS} (e.g. 3 or 0.5)`;
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(raw)) throw new UsageError(`${flag}: ${expected}, got ${quote(raw)}`);
  const seconds = Number(raw);
  if (seconds > MAX_SECONDS || (!allowZero && seconds <= 0)) throw new UsageError(`${flag}: ${expected}, got ${quote(raw)}`);
  const ms = Math.round(seconds * 1000);
  // 0.0001 s is > 0 but rounds to 0 ms, which would make a positive grace period vanish.
  return !allowZero && ms === 0 ? 1 : ms;
}

/** Any integer, of any size (callers fold it, e.g. with seed32, which treats negative values two's-complement). */
export function parseSeed(flag: string, raw: string): bigint {
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`${flag}: expected an integer, got ${quote(raw)}`);
  return BigInt(raw);
}

/** A whole decimal number in [min, max]; `unit` (e.g. ' of milliseconds') reads after "a whole number". */
export function wholeNumber(flag: string, raw: string, min: number, max: number, unit = ''): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${flag}: expected a whole number${unit} ${min}..${max}, got ${quote(raw)}`);
  }
  return Number(raw);
}

/** One of a fixed list of names. */
export function oneOf<T extends string>(flag: string, raw: string, values: readonly T[]): T {
  const found = values.find((v) => v === raw);
  if (found === undefined) throw new UsageError(`${flag}: expected one of ${values.join(', ')}, got ${quote(raw)}`);
  return found;
}

/** `--preset` of `maelstrom`, `--gossip` of `chat`. */
export function parseGossipPreset(flag: string, raw: string): GossipPreset {
  return oneOf(flag, raw, GOSSIP_PRESETS);
}
