/**
 * The wall-clock runtime (`chatterbox/runtime`): a protocol of the contract as a process. `runTcpNode` hosts it
 * over TCP from its place (self, peers, cluster id and key); the wall-clock driver alone, for other transports,
 * is `WallClockHost` in `chatterbox/kernel`. The peers file reader is the one `chatterbox node`, `chat` and
 * `ranges serve` use.
 */
export { runTcpNode, type TcpNode, type TcpNodeOptions } from './tcp-node.js';
export { listenAsNode, type NodePlace, type NodeTransportOptions } from './node-transport.js';
export { createLogger, silentLogger, type Logger } from '../platform/log.js';
export type { PeerAddress } from '../transport/tcp-transport.js';
// The peers file, as chatterbox node, chat and ranges serve read it (their place flags), for embedders.
export { deriveClusterId, findSelf, parsePeers, readPeersFile } from '../platform/peers-file.js';
// The operator's side of a node: its Prometheus registry and its /metrics, /healthz and /readyz (ops-http.ts).
export { NodeMetrics, messageKind, type NodeMetricsOptions, type ObservedMemberEvent } from './metrics.js';
export { Readiness, answerOps, createNodeOps, startOpsServer, type NodeOps, type NodeOpsOptions, type OpsListen, type OpsServer } from './ops-http.js';
