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
