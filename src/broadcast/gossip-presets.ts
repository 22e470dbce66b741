/**
 * The names of the gossip presets (their settings are in gossip.ts), apart so that command lines can be checked
 * and described without loading the protocol and its codec.
 */
export const GOSSIP_PRESETS = ['latency', 'messages'] as const;
export type GossipPreset = (typeof GOSSIP_PRESETS)[number];
