/**
 * Maelstrom's lin-kv client (workload/lin_kv.clj over jepsen.tests.linearizable-register and Jepsen's
 * `independent/concurrent-generator`), as the harness plays it:
 *
 * - Client slots are split into groups of 2n (n nodes); each group works on one key at a time, keys 0, 1, 2, …
 *   taken in turn from one counter shared by the groups. Fewer slots than 2n form one group.
 * - In a group, the first n slots only read (`gen/reserve n r`); the others write or cas, a third writes and two
 *   thirds cas (`gen/mix [w cas cas]`). Values are uniform in 0..4 (`rand-int 5`), so cas often fails with 22 and
 *   reads of a key no one wrote yet fail with 20: both definite failures, which the checker ignores.
 * - A key takes at most 20 distinct clients (`gen/process-limit 20`): a slot's client is replaced after a timeout
 *   (Maelstrom reopens a crashed client), and when a new client would be the 21st on its group's key, the group
 *   moves on to the next key. So keys rotate only where clients time out, as in Maelstrom. Jepsen counts every
 *   client of the group's threads; this counts the clients that issued on the key, which rotates a little later.
 *   Groups larger than 20 (over 10 nodes) allow as many clients as the group has slots.
 *
 * Requests: `{type: "read", key}`, `{type: "write", key, value}`, `{type: "cas", key, from, to}`; replies
 * `read_ok` with `value`, `write_ok`, `cas_ok`. There are no final reads: the checker judges the whole history.
 */
import type { Prng } from '../core/prng.js';
import type { OpSpec } from './client.js';

/** Jepsen's `process-limit` in jepsen.tests.linearizable-register. */
export const LIN_KV_PROCESS_LIMIT = 20;
/** Values are drawn from 0..LIN_KV_MAX_VALUE (`rand-int 5`). */
export const LIN_KV_MAX_VALUE = 4;

/** Who issues the next operation: the slot's index and its current client. */
export interface IssuedBy {
  readonly slot: number;
  readonly client: string;
}

export interface ClientShape {
  readonly nodeCount: number;
  readonly concurrency: number;
}

interface Group {
  key: number;
  readonly clients: Set<string>;
}

/** The lin-kv operation stream of one run; keys and groups are a function of the slots' clients. */
export function linKvGenerator(prng: Prng, shape: ClientShape): (by: IssuedBy) => OpSpec {
  const groupSize = Math.max(1, Math.min(2 * shape.nodeCount, shape.concurrency));
  const groupCount = Math.max(1, Math.floor(shape.concurrency / groupSize));
  const readers = groupSize === 1 ? 0 : Math.floor(groupSize / 2);
  const limit = Math.max(LIN_KV_PROCESS_LIMIT, groupSize);
  let nextKey = 0;
  const groups: Group[] = Array.from({ length: groupCount }, () => ({ key: nextKey++, clients: new Set<string>() }));
  return ({ slot, client }) => {
    // Slots past the last whole group join it.
    const g = Math.min(Math.floor(slot / groupSize), groupCount - 1);
    const group = groups[g] as Group;
    if (!group.clients.has(client)) {
      if (group.clients.size >= limit) {
        group.key = nextKey++;
        group.clients.clear();
      }
      group.clients.add(client);
    }
    const key = group.key;
    const position = slot - g * groupSize;
    // A lone slot both reads and writes, or the key would never be read.
    const reads = readers === 0 ? prng.chance(0.5) : position < readers;
    if (reads) return { f: 'read', value: [key, null], body: { type: 'read', key } };
    if (prng.int(0, 2) === 0) {
      const value = prng.int(0, LIN_KV_MAX_VALUE);
      return { f: 'write', value: [key, value], body: { type: 'write', key, value } };
    }
    const from = prng.int(0, LIN_KV_MAX_VALUE);
    const to = prng.int(0, LIN_KV_MAX_VALUE);
    return { f: 'cas', value: [key, [from, to]], body: { type: 'cas', key, from, to } };
  };
}
