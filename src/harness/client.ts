/**
 * What the harness's clients ask and how they read the answers, per workload, after Maelstrom's workload
 * sources (src/maelstrom/workload/*.clj) and doc/workloads.md:
 *
 * - echo: `{echo: "Please echo <0..127>"}` → `echo_ok` with the same `echo`.
 * - unique-ids: `generate` → `generate_ok` with an `id` of any JSON type.
 * - broadcast: half `broadcast` of 0, 1, 2, … (`message`), half `read` → `read_ok` with `messages`.
 * - g-set: half `add` of 0, 1, 2, … (`element`), half `read` → `read_ok` with `value` (an array).
 * - pn-counter: half `add` with `delta` uniform in -5..4, half `read` → `read_ok` with an integer `value`.
 * - g-counter: the same stream with negative adds filtered out (so adds are 0..4 and a third of all operations).
 * - lin-kv: `read`, `write` and `cas` on keys rotated per group of clients (lin-kv-client.ts) → `read_ok` with a
 *   `value`, `write_ok`, `cas_ok`.
 * - kafka: `send`, `poll`, `commit_offsets`, `list_committed_offsets` from stateful clients (kafka.ts).
 * - txn-rw-register: Elle's rw-register transactions as Maelstrom configures them (txn.ts `txnGenerator`)
 *   → `txn_ok` with the transaction, its reads filled in.
 *
 * An `error` reply is a definite failure (`fail`) for the codes Maelstrom calls definite, otherwise indefinite
 * (`info`), as is a reply that breaks the workload's schema.
 */
import * as z from 'zod';
import type { Prng } from '../core/prng.js';
import { DEFINITE_ERROR_CODES, errorBodySchema, issueText, maelstromInt } from '../maelstrom/wire.js';
import { KafkaClients } from './kafka.js';
import { linKvGenerator, type ClientShape, type IssuedBy } from './lin-kv-client.js';
import { txnGenerator } from './txn.js';
import type { HarnessWorkload, Op, OpError, OpF, OpType } from './types.js';

export type RequestBody = Readonly<Record<string, unknown>> & { readonly type: string };

export interface OpSpec {
  readonly f: OpF;
  readonly value: unknown;
  readonly body: RequestBody;
}

export const READ: OpSpec = { f: 'read', value: null, body: { type: 'read' } };

/**
 * The clients of a run: `next(by)` is the next operation of the client `by` names (with its slot), and every
 * completed operation goes back through `completed`, for workloads whose clients keep state (kafka's offsets).
 * Both backends drive this.
 */
export interface ClientModel {
  next(by: IssuedBy): OpSpec;
  completed(op: Op): void;
  /** kafka's clients, for its final polls; undefined for the other workloads. */
  readonly kafka: KafkaClients | undefined;
}

/**
 * The clients of `workload`, drawn from `prng`. `shape` is the run's node count and client slots (lin-kv groups
 * its clients by them); `kafkaSubP` is kafka's chance of an assign (Jepsen's 1/64).
 */
export function clientModel(workload: HarnessWorkload, prng: Prng, options: { readonly shape?: ClientShape; readonly kafkaSubP?: number } = {}): ClientModel {
  if (workload === 'kafka') {
    const kafka = new KafkaClients(prng, options.kafkaSubP);
    return { next: (by) => kafka.next(by.client), completed: (op) => kafka.completed(op), kafka };
  }
  const next = operationGenerator(workload, prng, options.shape);
  return { next, completed: () => undefined, kafka: undefined };
}

/**
 * An endless stream of operations for a workload whose clients keep no state, drawn from `prng`. Each call names
 * the slot and client that will issue the operation (lin-kv's keys depend on them; the other workloads ignore
 * it; without it, slot 0). `shape`: as for `clientModel` (default one node, one slot).
 */
export function operationGenerator(workload: Exclude<HarnessWorkload, 'kafka'>, prng: Prng, shape: ClientShape = { nodeCount: 1, concurrency: 1 }): (by?: IssuedBy) => OpSpec {
  let next = 0;
  switch (workload) {
    case 'lin-kv': {
      const kv = linKvGenerator(prng, shape);
      return (by) => kv(by ?? { slot: 0, client: 'c0' });
    }
    case 'echo':
      return () => {
        const echo = `Please echo ${prng.int(0, 127)}`;
        return { f: 'echo', value: echo, body: { type: 'echo', echo } };
      };
    case 'unique-ids':
      return () => ({ f: 'generate', value: null, body: { type: 'generate' } });
    case 'broadcast':
      return () => {
        if (prng.chance(0.5)) return READ;
        const message = next++;
        return { f: 'broadcast', value: message, body: { type: 'broadcast', message } };
      };
    case 'g-set':
      return () => {
        if (prng.chance(0.5)) return READ;
        const element = next++;
        return { f: 'add', value: element, body: { type: 'add', element } };
      };
    case 'pn-counter':
    case 'g-counter':
      return () => {
        for (;;) {
          if (prng.chance(0.5)) return READ;
          const delta = prng.int(-5, 4);
          // g-counter is pn-counter's generator behind a filter that drops negative adds (g_counter.clj).
          if (workload === 'g-counter' && delta < 0) continue;
          return { f: 'add', value: delta, body: { type: 'add', delta } };
        }
      };
    case 'txn-rw-register': {
      const txns = txnGenerator(prng);
      return () => {
        const txn = txns();
        return { f: 'txn', value: txn, body: { type: 'txn', txn } };
      };
    }
  }
}

export type Interpreted =
  | { readonly type: 'ok'; readonly result: unknown }
  | { readonly type: Exclude<OpType, 'ok'>; readonly error: OpError };

const present = z.unknown().refine((v) => v !== undefined, 'required');

/** txn-rw-register's reply: the transaction with its reads filled in (built once: it is parsed per reply). */
const TXN_ITEM = z.union([z.int(), z.string()]);
const TXN_OK = z.looseObject({
  type: z.literal('txn_ok'),
  txn: z.array(z.union([z.tuple([z.literal('r'), TXN_ITEM, z.union([TXN_ITEM, z.null()])]), z.tuple([z.literal('w'), TXN_ITEM, TXN_ITEM])])),
});

function okSchema(workload: HarnessWorkload, f: OpF): z.ZodType<Record<string, unknown>> {
  switch (f) {
    case 'echo':
      return z.looseObject({ type: z.literal('echo_ok'), echo: present });
    case 'generate':
      return z.looseObject({ type: z.literal('generate_ok'), id: present });
    case 'broadcast':
      return z.looseObject({ type: z.literal('broadcast_ok') });
    case 'add':
      return z.looseObject({ type: z.literal('add_ok') });
    case 'write':
      return z.looseObject({ type: z.literal('write_ok') });
    case 'cas':
      return z.looseObject({ type: z.literal('cas_ok') });
    case 'send':
      return z.looseObject({ type: z.literal('send_ok'), offset: z.int().min(0) });
    case 'poll':
      return z.looseObject({ type: z.literal('poll_ok'), msgs: z.record(z.string(), z.array(z.tuple([z.int().min(0), present]))) });
    case 'commit_offsets':
      return z.looseObject({ type: z.literal('commit_offsets_ok') });
    case 'list_committed_offsets':
      return z.looseObject({ type: z.literal('list_committed_offsets_ok'), offsets: z.record(z.string(), maelstromInt) });
    case 'txn':
      return TXN_OK;
    case 'read':
      // lin-kv: any JSON value, as the register holds it; null claims the key is missing (linearizability.ts).
      if (workload === 'lin-kv') return z.looseObject({ type: z.literal('read_ok'), value: present });
      if (workload === 'broadcast') return z.looseObject({ type: z.literal('read_ok'), messages: z.array(z.unknown()) });
      if (workload === 'g-set') return z.looseObject({ type: z.literal('read_ok'), value: z.array(z.unknown()) });
      return z.looseObject({ type: z.literal('read_ok'), value: maelstromInt });
  }
}

function resultOf(workload: HarnessWorkload, f: OpF, body: Record<string, unknown>): unknown {
  switch (f) {
    case 'echo':
      return body['echo'];
    case 'generate':
      return body['id'];
    case 'txn':
      return body['txn'];
    case 'read':
      return workload === 'broadcast' ? body['messages'] : body['value'];
    case 'send':
      return body['offset'];
    case 'poll':
      return body['msgs'];
    case 'list_committed_offsets':
      return body['offsets'];
    default:
      return null;
  }
}

/** Classifies a reply body to an operation. */
export function interpretReply(workload: HarnessWorkload, f: OpF, body: unknown): Interpreted {
  const error = errorBodySchema.safeParse(body);
  if (error.success) {
    const { code, text } = error.data;
    return { type: DEFINITE_ERROR_CODES.has(code) ? 'fail' : 'info', error: { kind: 'code', code, ...(text === undefined ? {} : { text }) } };
  }
  const ok = okSchema(workload, f).safeParse(body);
  if (!ok.success) {
    const type = typeof body === 'object' && body !== null && 'type' in body ? JSON.stringify((body as { type: unknown }).type) : 'no type';
    return { type: 'info', error: { kind: 'malformed', text: `${f} answered with ${type}: ${issueText(ok.error)}` } };
  }
  return { type: 'ok', result: resultOf(workload, f, ok.data) };
}

/**
 * A stable text key for any JSON value (object keys sorted), so values that are equal as JSON compare equal:
 * element identity for sets, id identity for unique-ids.
 */
export function canonicalKey(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalKey).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalKey(v)}`).join(',')}}`;
  }
  return JSON.stringify(String(value));
}
