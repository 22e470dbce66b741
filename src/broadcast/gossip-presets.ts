/**
 * The names of the gossip presets (their settings are in gossip.ts), apart so that command lines can be checked
 * and described without loading the protocol and its codec.
 */
export const GOSSIP_PRESETS = ['latency', 'messages'] as const;
export type GossipPreset = (typeof GOSSIP_PRESETS)[number];

/**
 * Whose overlay a Maelstrom broadcast node uses: `own`, the preset's (measured to beat Maelstrom's grid; see the
 * README), or `follow`, the neighbours Maelstrom's `topology` message names (relaying over them).
 */
export const TOPOLOGY_MODES = ['own', 'follow'] as const;
export type TopologyMode = (typeof TOPOLOGY_MODES)[number];
