/** The shape check of every SWIM message from the network (protocol rule 5): total, bounded, never throws. */
import { isCount, isRecord } from '../core/guards.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_ID_LENGTH,
  MAX_INCARNATION,
  MAX_MEMBERS,
  MAX_PIGGYBACK_UPDATES,
  MEMBER_STATES,
  type MemberState,
  type PushNodeState,
  type SwimMsg,
  type SwimUpdate,
} from './types.js';

const STATES: ReadonlySet<string> = new Set<MemberState>(MEMBER_STATES);

function isId(x: unknown): boolean {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_ID_LENGTH;
}

/** An incarnation: a whole number up to MAX_INCARNATION (so a refutation, +1, stays exact and bounded). */
function isIncarnation(x: unknown): boolean {
  return isCount(x) && (x as number) <= MAX_INCARNATION;
}

function isAddress(x: unknown): boolean {
  return typeof x === 'string' && x.length <= MAX_ADDRESS_LENGTH;
}

export function isSwimUpdate(x: unknown): x is SwimUpdate {
  if (!isRecord(x) || !isId(x['node']) || !isIncarnation(x['inc'])) return false;
  switch (x['k']) {
    case 'alive':
      return isAddress(x['addr']);
    case 'suspect':
    case 'dead':
      return isId(x['from']);
    default:
      return false;
  }
}

function isUpdates(x: unknown): boolean {
  return Array.isArray(x) && x.length <= MAX_PIGGYBACK_UPDATES && x.every(isSwimUpdate);
}

function isPushNodeState(x: unknown): x is PushNodeState {
  return isRecord(x) && isId(x['node']) && isAddress(x['addr']) && isIncarnation(x['inc']) && typeof x['state'] === 'string' && STATES.has(x['state']);
}

export function isSwimMsg(x: unknown): x is SwimMsg {
  if (!isRecord(x)) return false;
  switch (x['t']) {
    case 'ping':
      return isCount(x['seq']) && isId(x['node']) && isUpdates(x['g']);
    case 'ack':
    case 'nack':
      return isCount(x['seq']) && isUpdates(x['g']);
    case 'ping-req':
      return isCount(x['seq']) && isId(x['node']) && typeof x['nack'] === 'boolean' && isUpdates(x['g']);
    case 'gossip':
      return isUpdates(x['g']);
    case 'push-pull': {
      const states = x['states'];
      return typeof x['join'] === 'boolean' && typeof x['reply'] === 'boolean' && Array.isArray(states) && states.length <= MAX_MEMBERS && states.every(isPushNodeState);
    }
    default:
      return false;
  }
}
