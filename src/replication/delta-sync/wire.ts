/**
 * The guard for delta-sync's wire messages (types.ts). Peers can be buggy or hostile: a message reaches a
 * handler only if its fields have the types and ranges the handlers rely on. Payloads are checked when decoded.
 */
import { isCount, isRecord } from '../../core/guards.js';
import type { SyncMsg } from './types.js';

export function isSyncMessage(value: unknown): value is SyncMsg {
  if (!isRecord(value) || typeof value.i !== 'number' || !Number.isFinite(value.i)) return false;
  switch (value.t) {
    case 'd':
      return (
        typeof value.ri === 'number' &&
        isCount(value.from) &&
        isCount(value.to) &&
        value.from <= value.to &&
        isCount(value.ack) &&
        value.p instanceof Uint8Array &&
        typeof value.full === 'boolean' &&
        typeof value.rx === 'boolean'
      );
    case 'a':
      return typeof value.ri === 'number' && isCount(value.ack) && typeof value.gap === 'boolean';
    case 'g':
      return value.digest instanceof Uint8Array && typeof value.reply === 'boolean';
    case 'r':
      return value.p instanceof Uint8Array;
    case 'graft':
    case 'prune':
      return true;
    default:
      return false;
  }
}
