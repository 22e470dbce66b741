/**
 * The counter as a process over TCP. Every node of the cluster is listed in a peers file (the form
 * `chatterbox node` reads: `[{"id": "n1", "host": "127.0.0.1", "port": 4001}, ...]`); a node finds itself by id.
 *
 *   node tcp.js --peers peers.json --id n1 [--gossip-ms 100]
 *
 * Commands on stdin, one a line: `add <n>` and `read`. Each is answered on stdout with Maelstrom's reply body as
 * one JSON line (`{"type":"add_ok"}`, `{"type":"read_ok","value":7}`). The node exits 0 when stdin closes; a bad
 * flag or peers file is one line on stderr and exit 2.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createLogger, deriveClusterId, readPeersFile, runTcpNode } from 'chatterbox/runtime';
import { counter, DEFAULT_COUNTER_OPTIONS } from './counter.js';

function usage(problem: string): never {
  console.error(`tcp.js: ${problem}\nusage: node tcp.js --peers <file> --id <node id> [--gossip-ms <ms>]`);
  process.exit(2);
}

let flags: { peers?: string | undefined; id?: string | undefined; 'gossip-ms'?: string | undefined };
try {
  flags = parseArgs({ options: { peers: { type: 'string' }, id: { type: 'string' }, 'gossip-ms': { type: 'string' } } }).values;
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
if (flags.peers === undefined || flags.id === undefined) usage('--peers and --id are required');
const gossipMs = Number(flags['gossip-ms'] ?? DEFAULT_COUNTER_OPTIONS.gossipMs);
if (!Number.isSafeInteger(gossipMs) || gossipMs < 1) usage('--gossip-ms: expected a whole number of milliseconds ≥ 1');

let peers: ReturnType<typeof readPeersFile>;
try {
  peers = readPeersFile(flags.peers);
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const self = peers.find((peer) => peer.id === flags.id);
if (self === undefined) usage(`--id ${flags.id}: not in ${flags.peers}`);

const log = createLogger({ name: self.id, level: 'warn' });
const node = await runTcpNode(
  counter,
  { self, peers, clusterId: deriveClusterId(peers.map((peer) => peer.id)) },
  { options: { gossipMs }, log, onOutput: (reply) => console.log(JSON.stringify(reply.body)) },
);

let token = 0;
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  const [command, argument] = line.trim().split(/\s+/);
  if (command === 'read') node.request({ token: ++token, body: { type: 'read' } });
  else if (command === 'add' && argument !== undefined && /^\d+$/.test(argument)) node.request({ token: ++token, body: { type: 'add', delta: Number(argument) } });
  else if (command !== '') console.log(JSON.stringify({ type: 'error', text: `expected "add <n>" or "read", got ${JSON.stringify(line)}` }));
}
await node.close();
