/** Harness options for process tests: every wait is for an event, bounded only by HUNG_AFTER_MS. */
import type { HarnessInput } from '../../../src/harness/runner.js';
import { HUNG_AFTER_MS } from './processes.js';

/**
 * `init` answered, each operation answered, and the recovery ended by convergence (every node's read holds every
 * acknowledged write and they agree), never by a clock that a loaded machine could outrun. Maelstrom's own
 * defaults (10 s for init, a fixed recovery sleep) are for users; a test waits for the event and calls the node
 * hung only after HUNG_AFTER_MS.
 */
export const PATIENT: Pick<HarnessInput, 'initTimeoutMs' | 'timeoutMs' | 'recoveryMs' | 'recoverUntilConverged'> = {
  initTimeoutMs: HUNG_AFTER_MS,
  timeoutMs: HUNG_AFTER_MS,
  recoveryMs: HUNG_AFTER_MS,
  recoverUntilConverged: true,
};

/** A Maelstrom broadcast node that gossips each message once and never retries: under partitions it loses messages. */
export const NAIVE_BROADCAST = `
// A naive broadcast node: gossips each new message once to its neighbours, never retries.
import { createInterface } from 'node:readline';
let self = '', neighbours = [], next = 0;
const seen = new Set();
const send = (dest, body) => process.stdout.write(JSON.stringify({ src: self, dest, body }) + '\\n');
const reply = (m, body) => send(m.src, { ...body, msg_id: ++next, in_reply_to: m.body.msg_id });
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line), b = m.body;
  if (b.type === 'init') { self = b.node_id; reply(m, { type: 'init_ok' }); }
  else if (b.type === 'topology') { neighbours = b.topology[self]; reply(m, { type: 'topology_ok' }); }
  else if (b.type === 'broadcast' || b.type === 'gossip') {
    if (!seen.has(b.message)) { seen.add(b.message); for (const n of neighbours) if (n !== m.src) send(n, { type: 'gossip', message: b.message }); }
    if (b.type === 'broadcast') reply(m, { type: 'broadcast_ok' });
  } else if (b.type === 'read') reply(m, { type: 'read_ok', messages: [...seen] });
});
`;

/**
 * The run that shows NAIVE_BROADCAST (written to `fixture`) losing messages: 5 nodes under partitions. It never
 * converges (the naive node never resends what a partition dropped), so the recovery is waited out: kept short.
 * What it lost stays lost however long the wait, so its length cannot change the verdict.
 */
export function naiveBroadcastUnderPartitions(fixture: string): HarnessInput {
  return {
    ...PATIENT,
    workload: 'broadcast',
    nodeCount: 5,
    timeLimitMs: 1500,
    rate: 60,
    partition: true,
    nemesisIntervalMs: 200,
    recoveryMs: 300,
    seed: 5,
    bin: process.execPath,
    binArgs: [fixture],
  };
}
