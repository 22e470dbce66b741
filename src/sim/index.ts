/** The deterministic simulator: virtual time, a network model and scheduled faults for any sans-IO protocol. */
export { EventQueue, type Scheduled } from './event-queue.js';
/** The seeded generator fault schedules and networks are drawn from. */
export { Prng, hash32 } from '../core/prng.js';
export {
  drawLatencyMs,
  perfectNetwork,
  randomNetwork,
  validateLink,
  type LatencyModel,
  type LinkModel,
  type NetworkModel,
  type RandomNetworkOptions,
} from './network.js';
export { DEFAULT_PAUSE_LENGTH_MS, drawStartOffsets, faultEndMs, randomFaultSchedule, type Fault, type FaultScheduleOptions } from './faults.js';
// Partitions as groups or as Jepsen's majorities ring; Jepsen's partition targets, its partition nemesis and its
// kill and pause nemeses as schedules.
export {
  describePartition,
  jepsenPartition,
  nemesisSchedule,
  partitionTargets,
  processNemesisSchedule,
  ringRadius,
  staggerMs,
  type GroupsPartition,
  type PartitionFault,
  type PartitionTarget,
  type ProcessFaultKind,
  type RingPartition,
} from './faults.js';
export { latencyWithMean, MEAN_LATENCY_SHAPES, type MeanLatencyShape } from './network.js';
export {
  DEFAULT_LOG_CAPACITY,
  DEFAULT_MAX_QUEUED_EVENTS,
  DEFAULT_MAX_STEPS,
  onSeedSettled,
  onSimulationCreated,
  PICTURE_ENV,
  REPLAY_SEED_ENV,
  runSimulation,
  Simulation,
  SimulationError,
  testPictureCommand,
  testSeeds,
  withSeed,
  type AnySimulation,
  type InjectedInput,
  type NodeStats,
  type OutputListener,
  type SeedListener,
  type SimLogEntry,
  type SimulationConfig,
  type SimulationListener,
  type SimulationReport,
  type SimulationStats,
  type StepListener,
} from './simulation.js';
// Membership (SWIM + Lifeguard) under the simulator: static nodes, joiners with nodes = [self], leaves, faults.
export { runMembershipScenario, withInitNodes, type MemberChange, type MembershipScenario, type MembershipVerdict } from './scenarios/membership.js';
export { COMPOSED_ADDRESS_BOOK, memberEventOf, membershipSeedsOf, withAddressBook, type AddressBook, type AddressBookModel } from './address-book.js';
