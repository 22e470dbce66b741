/**
 * The protocol contract (`chatterbox/protocol`): what a protocol of your own implements so that every driver
 * (processes over TCP, a Maelstrom node, the simulator) runs it by the same rules. The rules are written in
 * types.ts; node ids and the assertions invariants are written with come along, so a protocol needs nothing else.
 */
export type { AnyProtocol, Effect, InitContext, Input, LogLevel, Protocol } from './types.js';
export { compareNodeIds, nodeId, type NodeId } from '../core/ids.js';
export { AssertionError, assert, unreachable } from '../core/assert.js';
