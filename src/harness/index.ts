/**
 * The Maelstrom-like test harness as a library (its pure part): Maelstrom workloads (the shipped ones, or a
 * `Workload` of your own as `draw.hosted`) under the simulator, with drawn faults, the harness's clients and
 * Maelstrom's checkers: one seed, one verdict. The process backend, any node binary as real processes, is
 * `chatterbox harness`.
 */
export {
  SIM_WORKLOADS,
  drawMaelstromScenario,
  runMaelstromScenario,
  shippedWorkload,
  sweepMaelstrom,
  type MaelstromDraw,
  type MaelstromScenario,
  type MaelstromSweep,
  type MaelstromVerdict,
  type SimWorkload,
} from './simulated.js';
export {
  CONSISTENCY_MODELS,
  DEFAULT_CONSISTENCY_MODELS,
  checkTxn,
  type ConsistencyModel,
  type TxnAnomaly,
  type TxnAnomalyType,
  type TxnCheck,
} from './txn.js';
export type { CheckResult, Op, OpCounts } from './types.js';
export { KAFKA_ERROR_KINDS, KafkaClients, checkKafka, type KafkaCheck, type KafkaErrorKind } from './kafka.js';
