/** The node kernel: the protocol contract's rules, carried out the same way under every driver. */
export {
  GUARD_WARNING_WINDOW_MS,
  GUARD_WARNINGS_PER_WINDOW,
  InvariantError,
  MAX_LOOPBACK_PER_INPUT,
  MAX_TIMERS_PER_PASS,
  NodeKernel,
  type KernelCounters,
  type KernelOptions,
  type KernelSink,
  type TimerEntry,
} from './node-kernel.js';
export { DEBUG_INVARIANTS_ENV, WallClockHost, wallClockMs, type HostIo } from './wall-clock-host.js';
export { StoreError, type DurableStore, type StoreErrorCode } from './durable-store.js';
export type { Transport, TransportHandlers } from '../transport/transport.js';
