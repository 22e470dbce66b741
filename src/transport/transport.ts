/**
 * The `Transport` contract: how a node's messages reach its peers, whatever carries them. Drivers hand the node
 * kernel's sends to a transport and its deliveries to the kernel (whose guard checks them, protocol/types.ts rule
 * 5), so protocols are written against this floor and nothing above it. Three implementations, one acceptance
 * suite (test/transport-contract.test.ts, in the manner of automerge-repo's network adapter tests): TCP between
 * processes (tcp-transport.ts), Maelstrom's network over stdin/stdout (maelstrom/stdio-link.ts), and the
 * simulator's seeded network (sim/simulation.ts, `Simulation.endpoint`). Types only: importing this pulls in no
 * implementation.
 *
 * The floor, which every implementation guarantees:
 * - Integrity: a message arrives intact (equal, value for value, typed arrays included, to what was sent) or not
 *   at all; a message that arrives carries the id of the node that sent it, never another's.
 * - Closed means closed: once `close()` has started, `send` returns false and no handler runs for that endpoint;
 *   nothing is delivered to it any more.
 * - No loopback: a send to self is refused (false) and nothing is delivered; the node kernel feeds a protocol's
 *   self-addressed messages back itself (rule 3), the same under every driver.
 * - `send` never throws for what the network does. False means the message was dropped at once (peer
 *   unreachable, a bound reached, closed, self); true promises nothing more than an attempt.
 * - Handlers run one at a time, on the driver's own turn, never from inside `send`.
 * What callers must tolerate (every protocol does: it retransmits, and its handlers are idempotent):
 * - loss of any message; reordering of any two messages; a message delivered more than once;
 * - a peer's restart, which is a new incarnation of the same id with none of the old one's state: messages in
 *   flight to the old incarnation are lost, never delivered to the new one; messages the old one sent may still
 *   arrive after it died.
 *
 * What each implementation adds above the floor:
 * - TCP: one connection per pair; within a connection FIFO and no duplicates, so loss and reordering happen
 *   only across a reconnection (a message sent before it may arrive after one sent after it, or never). `send`
 *   knows when the peer is not connected or its queue is over the bound. With a cluster key, peers are
 *   authenticated and messages encrypted. A peer-up event names the peer's incarnation (so a restart shows as a
 *   new one); a peer-down event names the peer.  In dynamic mode (tcp-transport.ts) the peers are those membership reports,
 *   added and removed as they come and go, and a node not yet added may connect.
 * - Maelstrom stdio: whatever Maelstrom's network does (maelstrom/net.clj): every message is delayed at random
 *   below the configured latency, so messages reorder; none is duplicated; each is lost with the network's loss
 *   probability (0.5 under the `flaky` nemesis), and partitions drop messages at the receiver. Maelstrom does not
 *   restart nodes during a test. `send` cannot see any of it: it returns true unless closed or to self.
 * - Simulated: whatever the seeded `NetworkModel` and faults say (sim/network.ts, sim/faults.ts): per-link
 *   latency (a fixed latency gives FIFO links), loss and duplication rates, partitions, crashes and restarts,
 *   pauses that hold deliveries until the resume; a message to a node that has never been up is refused. Every
 *   run of a seed is the same, message for message. A run that outgrows the simulator's own event bound
 *   (`maxQueuedEvents`) fails as a whole with a SimulationError: a fault of the test's settings, not of a network.
 */
import type { NodeId } from '../core/ids.js';

export interface Transport<Msg = unknown> {
  /** The node this endpoint sends as. */
  readonly self: NodeId;
  /** Hands `msg` to the network for `to` (a node of the cluster); false when it was dropped at once. */
  send(to: NodeId, msg: Msg): boolean;
  /** Stops sending and delivering; resolves once the endpoint has let go of what it holds. Idempotent. */
  close(): Promise<void>;
}

/** Where a transport delivers: given to each implementation when it is made. */
export interface TransportHandlers {
  /** A message from `from`, decoded but not yet checked: whether the protocol takes it is the kernel's guard. */
  readonly onMessage: (from: NodeId, msg: unknown) => void;
}
