/**
 * The Maelstrom driver (`chatterbox/maelstrom`): run any protocol of the contract as a Maelstrom node. A
 * `Workload` names the protocol, the client requests it claims and its options; its requests arrive as
 * `ClientRequest`s and it answers with `ClientReply` outputs. `runMaelstromStdio` is a node binary's whole main;
 * `chatterbox harness --bin <it>` (or Maelstrom itself) tests it, and `chatterbox/sim`'s Maelstrom scenarios run
 * it under the simulator with the same checkers.
 */
export {
  HOSTED_WORKLOAD_NAMES,
  MaelstromError,
  type Body,
  type ClientReply,
  type ClientRequest,
  type Workload,
} from './service.js';
export { hostingOf, runMaelstromStdio, type MaelstromStdioOptions } from './stdio.js';
export {
  MAX_MESSAGES_WHILE_LOADING,
  MaelstromNode,
  loadHosting,
  memoryStore,
  runMaelstromNode,
  type Hosting,
  type StoreOpener,
  type MaelstromNodeIo,
  type MaelstromNodeOptions,
  type MaelstromNodeStats,
} from './node.js';
export {
  KAFKA_MACHINE,
  KAFKA_REQUESTS,
  KAFKA_REQUEST_TYPES,
  KAFKA_WORKLOAD,
  answerKafkaRead,
  isKafkaRequest,
  kafkaCommandReply,
  kafkaInvariants,
  planKafkaRequest,
  type KafkaCommand,
  type KafkaMsg,
  type KafkaPlan,
  type KafkaRead,
  type KafkaResult,
  type KafkaState,
} from './kafka.js';
