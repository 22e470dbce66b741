/**
 * Maelstrom's `lin-kv` workload (doc/workloads.md#workload-lin-kv; maelstrom/workload/lin_kv.clj): a
 * linearizable key-value store, here a map of registers replicated by Raft (../consensus/).
 *
 * - `read {key}` → `read_ok {value}`, or error 20 (key-does-not-exist). Reads go by read index (linearizable,
 *   no clock assumption: consensus/reads.ts).
 * - `write {key, value}` → `write_ok`: a command through the log.
 * - `cas {key, from, to}` → `cas_ok`, 20 if the key is missing, 22 (precondition-failed) if its value is not
 *   `from`. With `create_if_not_exists: true` (as Maelstrom's own lin-kv service takes it) a missing key is
 *   created with `to`.
 *
 * Maelstrom's generator sends integer keys and values (jepsen.independent keys, small integer values); anything
 * else is refused with 12 (malformed-request) and a text saying why, so nothing acknowledged is ever changed on
 * its way back. Errors 11 (no leader known: nothing proposed) are definite; once a command was proposed or
 * forwarded its failure is 0 (timeout: indefinite).
 */
import { isRecord } from '../core/guards.js';
import { DEFAULT_RAFT_TIMING, raftProtocol } from '../consensus/raft.js';
import type { StateMachine } from '../consensus/state-machine.js';
import type { RaftOptions, RaftRequests, RaftTimer } from '../consensus/types.js';
import { decodeMessage, encodeMessage } from '../transport/codec.js';
import { MaelstromError, type Body, type ClientReply, type ClientRequest, type Workload } from './service.js';

export type LinKvState = Map<number, number>;

export type LinKvCommand =
  | { readonly op: 'write'; readonly key: number; readonly value: number }
  | { readonly op: 'cas'; readonly key: number; readonly from: number; readonly to: number; readonly create: boolean };

/** `code` absent: done. */
export interface LinKvResult {
  readonly code?: typeof MaelstromError.keyDoesNotExist | typeof MaelstromError.preconditionFailed;
  readonly text?: string;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export const LIN_KV_MACHINE: StateMachine<LinKvState, LinKvCommand, LinKvResult> = {
  name: 'lin-kv',
  init: () => new Map(),
  apply(state, command) {
    if (command.op === 'write') {
      state.set(command.key, command.value);
      return {};
    }
    const current = state.get(command.key);
    if (current === undefined && !command.create) return { code: MaelstromError.keyDoesNotExist, text: `key ${command.key} does not exist` };
    if (current !== undefined && current !== command.from) {
      return { code: MaelstromError.preconditionFailed, text: `expected ${command.from}, but key ${command.key} holds ${current}` };
    }
    state.set(command.key, command.to);
    return {};
  },
  isCommand(value): value is LinKvCommand {
    if (!isRecord(value) || !isInt(value['key'])) return false;
    if (value['op'] === 'write') return isInt(value['value']);
    return value['op'] === 'cas' && isInt(value['from']) && isInt(value['to']) && typeof value['create'] === 'boolean';
  },
};

function error(token: number, code: number, text: string): ClientReply {
  return { token, body: { type: 'error', code, text } };
}

/** Integer fields only: 12 names the first field that is missing or not a safe integer. */
function badField(body: Body, fields: readonly string[]): string | undefined {
  for (const f of fields) {
    if (!(f in body)) return `${body.type} needs a ${f}`;
    if (!isInt(body[f])) return `${body.type}'s ${f} must be an integer (lin-kv keys and values are integers), got ${JSON.stringify(body[f]) ?? String(body[f])}`;
  }
  return undefined;
}

export const LIN_KV_REQUESTS: RaftRequests<LinKvState, LinKvCommand, LinKvResult, ClientRequest, ClientReply> = {
  classify({ token, body }) {
    const malformed = (text: string) => ({ kind: 'reply', out: error(token, MaelstromError.malformedRequest, text) }) as const;
    switch (body.type) {
      case 'read': {
        const bad = badField(body, ['key']);
        return bad === undefined ? { kind: 'read' } : malformed(bad);
      }
      case 'write': {
        const bad = badField(body, ['key', 'value']);
        return bad === undefined ? { kind: 'command', command: { op: 'write', key: body['key'] as number, value: body['value'] as number } } : malformed(bad);
      }
      case 'cas': {
        const bad = badField(body, ['key', 'from', 'to']);
        if (bad !== undefined) return malformed(bad);
        const create = body['create_if_not_exists'];
        if (create !== undefined && typeof create !== 'boolean') return malformed('cas\'s create_if_not_exists must be a boolean');
        return { kind: 'command', command: { op: 'cas', key: body['key'] as number, from: body['from'] as number, to: body['to'] as number, create: create === true } };
      }
      default:
        return { kind: 'reply', out: error(token, MaelstromError.notSupported, `lin-kv does not handle ${body.type}`) };
    }
  },
  result({ token, body }, result) {
    if (result.code !== undefined) return error(token, result.code, result.text ?? '');
    return { token, body: { type: body.type === 'write' ? 'write_ok' : 'cas_ok' } };
  },
  read({ token, body }, state) {
    const key = body['key'] as number;
    const value = state.get(key);
    return value === undefined ? error(token, MaelstromError.keyDoesNotExist, `key ${key} does not exist`) : { token, body: { type: 'read_ok', value } };
  },
  error({ token }, kind, text) {
    return kind === 'unavailable' ? error(token, MaelstromError.temporarilyUnavailable, text) : error(token, MaelstromError.timeout, text);
  },
};

/** Raft's options for a Maelstrom workload on Raft (lin-kv, kafka): the default timing, the transport codec for what it persists. */
export function raftWorkloadOptions(overrides: Partial<Omit<RaftOptions, 'codec'>> = {}): RaftOptions {
  return { ...DEFAULT_RAFT_TIMING, seed: 0, ...overrides, codec: { encode: encodeMessage, decode: decodeMessage } };
}

export const LIN_KV_PROTOCOL = raftProtocol(LIN_KV_MACHINE, LIN_KV_REQUESTS, 'lin-kv');

/** Claims read/write/cas that name a key (the other workloads' `read` carries none). */
export const LIN_KV_WORKLOAD: Workload<RaftTimer> = {
  name: 'lin-kv',
  claims: (body) => (body.type === 'read' || body.type === 'write' || body.type === 'cas') && 'key' in body,
  protocol: LIN_KV_PROTOCOL,
  // Without `chatterbox maelstrom --data-dir` the store is the process's memory: a killed node comes back with an
  // empty disk, which Raft does not survive (see consensus/persistence.ts); Maelstrom never kills nodes, and the
  // harness's kill nemesis needs --node-data-dir for lin-kv and kafka.
  options: () => raftWorkloadOptions(),
  durable: true,
};
