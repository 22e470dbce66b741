/**
 * The simulated network: per-link latency distributions, loss and duplication.
 *
 * Reordering is not a separate knob: every copy of every message draws its own latency, so two messages on
 * the same link arrive out of order whenever the later one draws a sufficiently shorter latency. A `fixed`
 * latency therefore gives FIFO links; `uniform` and `exponential` reorder (more so the wider the spread).
 * Links are directed: a→b and b→a may have different models. A node sending to itself uses the self link.
 */
import type { NodeId } from '../core/ids.js';
import type { Prng } from '../core/prng.js';

export type LatencyModel =
  | { readonly kind: 'fixed'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  /** minMs plus an exponentially distributed extra with mean meanExtraMs, capped at maxMs (a long tail). */
  | { readonly kind: 'exponential'; readonly minMs: number; readonly meanExtraMs: number; readonly maxMs: number };

export interface LinkModel {
  readonly latency: LatencyModel;
  /** Probability in [0, 1] that a sent message is lost. */
  readonly lossRate: number;
  /** Probability in [0, 1] that a message that was not lost is delivered twice (each copy with its own latency). */
  readonly duplicateRate: number;
}

export interface NetworkModel {
  readonly defaultLink: LinkModel;
  /** Directed links with their own model; a later entry for the same (from, to) wins. */
  readonly linkOverrides?: ReadonlyArray<{ readonly from: NodeId; readonly to: NodeId; readonly link: LinkModel }>;
}

/** Latency draws are quantised to whole microseconds, which keeps logged times readable. */
const MICROS_PER_MS = 1000;

function quantiseMs(ms: number): number {
  return Math.round(ms * MICROS_PER_MS) / MICROS_PER_MS;
}

/** One latency draw in milliseconds. Always draws exactly one value (none for `fixed`). */
export function drawLatencyMs(prng: Prng, model: LatencyModel): number {
  switch (model.kind) {
    case 'fixed':
      return model.ms;
    case 'uniform':
      return quantiseMs(model.minMs + prng.float() * (model.maxMs - model.minMs));
    case 'exponential': {
      // 1 - u lies in (0, 1], so the logarithm is finite.
      const extra = -Math.log(1 - prng.float()) * model.meanExtraMs;
      return quantiseMs(Math.min(model.maxMs, model.minMs + extra));
    }
  }
}

/** Latency shapes given by their mean alone, as Maelstrom's `--latency-dist` names them. */
export const MEAN_LATENCY_SHAPES = ['constant', 'uniform', 'exponential'] as const;
export type MeanLatencyShape = (typeof MEAN_LATENCY_SHAPES)[number];

/**
 * Exponential draws are capped at this many means: the model needs a cap, and the chance of reaching it (e^-50)
 * is nil, so the distribution is the uncapped one in all but name.
 */
const EXPONENTIAL_CAP_MEANS = 50;

/**
 * A latency model with mean `meanMs` (Maelstrom's `--latency` and `--latency-dist`): `constant` is the mean,
 * `uniform` draws from [0, 2·mean], `exponential` from an exponential distribution with that mean; the last two
 * reorder messages, as Maelstrom's network does.
 */
export function latencyWithMean(meanMs: number, shape: MeanLatencyShape): LatencyModel {
  if (meanMs <= 0) return { kind: 'fixed', ms: 0 };
  switch (shape) {
    case 'constant':
      return { kind: 'fixed', ms: meanMs };
    case 'uniform':
      return { kind: 'uniform', minMs: 0, maxMs: 2 * meanMs };
    case 'exponential':
      return { kind: 'exponential', minMs: 0, meanExtraMs: meanMs, maxMs: EXPONENTIAL_CAP_MEANS * meanMs };
  }
}

function checkMs(value: number, what: string): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} must be a finite number >= 0, got ${value}`);
}

function checkRate(value: number, what: string): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${what} must be in [0, 1], got ${value}`);
}

export function validateLink(link: LinkModel, where: string): void {
  const l = link.latency;
  switch (l.kind) {
    case 'fixed':
      checkMs(l.ms, `${where}.latency.ms`);
      break;
    case 'uniform':
      checkMs(l.minMs, `${where}.latency.minMs`);
      checkMs(l.maxMs, `${where}.latency.maxMs`);
      if (l.maxMs < l.minMs) throw new RangeError(`${where}.latency: maxMs < minMs`);
      break;
    case 'exponential':
      checkMs(l.minMs, `${where}.latency.minMs`);
      checkMs(l.meanExtraMs, `${where}.latency.meanExtraMs`);
      checkMs(l.maxMs, `${where}.latency.maxMs`);
      if (l.maxMs < l.minMs) throw new RangeError(`${where}.latency: maxMs < minMs`);
      break;
    default:
      throw new RangeError(`${where}.latency: unknown kind ${JSON.stringify((l as { kind: unknown }).kind)}`);
  }
  checkRate(link.lossRate, `${where}.lossRate`);
  checkRate(link.duplicateRate, `${where}.duplicateRate`);
}

/**
 * The network resolved over node indices: one lookup per send instead of a search through the overrides.
 * Internal to the simulator.
 */
export class LinkTable {
  private readonly links: LinkModel[];
  private readonly n: number;

  constructor(nodeCount: number, indexOf: ReadonlyMap<NodeId, number>, model: NetworkModel) {
    validateLink(model.defaultLink, 'network.defaultLink');
    this.n = nodeCount;
    this.links = new Array<LinkModel>(nodeCount * nodeCount).fill(model.defaultLink);
    const overrides = model.linkOverrides ?? [];
    for (let k = 0; k < overrides.length; k++) {
      const o = overrides[k]!;
      const from = indexOf.get(o.from);
      const to = indexOf.get(o.to);
      if (from === undefined || to === undefined) {
        throw new RangeError(`network.linkOverrides[${k}] names an unknown node (${o.from} -> ${o.to})`);
      }
      validateLink(o.link, `network.linkOverrides[${k}].link`);
      this.links[from * this.n + to] = o.link;
    }
  }

  link(from: number, to: number): LinkModel {
    return this.links[from * this.n + to] as LinkModel;
  }
}

/** A lossless, duplicate-free FIFO network with one fixed latency: the baseline for unit tests. */
export function perfectNetwork(latencyMs = 1): NetworkModel {
  return { defaultLink: { latency: { kind: 'fixed', ms: latencyMs }, lossRate: 0, duplicateRate: 0 } };
}

export interface RandomNetworkOptions {
  /** Give some directed links their own randomly drawn model (needs the node list). */
  readonly nodes?: readonly NodeId[];
  /** Fraction of directed links that get an override, when `nodes` is given. Default 0.1. */
  readonly overrideRate?: number;
  /** Default 0.2. */
  readonly maxLossRate?: number;
  /** Default 0.1. */
  readonly maxDuplicateRate?: number;
  /** Upper bound of every latency draw. Default 200 ms. */
  readonly maxLatencyMs?: number;
}

const DEFAULT_MAX_LOSS_RATE = 0.2;
const DEFAULT_MAX_DUPLICATE_RATE = 0.1;
const DEFAULT_MAX_LATENCY_MS = 200;
const DEFAULT_OVERRIDE_RATE = 0.1;
/** Rates are rounded so that a drawn model prints compactly in a failure report. */
const RATE_DECIMALS = 10_000;

function roundRate(x: number): number {
  return Math.round(x * RATE_DECIMALS) / RATE_DECIMALS;
}

function randomLink(prng: Prng, maxLoss: number, maxDup: number, maxLatencyMs: number): LinkModel {
  // Perfect links are common in reality and exercise different code paths, so draw them often.
  const lossRate = prng.chance(0.25) ? 0 : roundRate(prng.float() * maxLoss);
  const duplicateRate = prng.chance(0.5) ? 0 : roundRate(prng.float() * maxDup);
  const minMs = quantiseMs(prng.float() * maxLatencyMs * 0.25);
  const maxMs = quantiseMs(minMs + prng.float() * (maxLatencyMs - minMs));
  const shape = prng.int(0, 2);
  const latency: LatencyModel =
    shape === 0
      ? { kind: 'fixed', ms: minMs }
      : shape === 1
        ? { kind: 'uniform', minMs, maxMs }
        : { kind: 'exponential', minMs, meanExtraMs: quantiseMs(Math.max(0.001, (maxMs - minMs) / 4)), maxMs };
  return { latency, lossRate, duplicateRate };
}

/** A network drawn within sane ranges: loss <= maxLossRate, duplication <= maxDuplicateRate, latency <= maxLatencyMs. */
export function randomNetwork(prng: Prng, opts: RandomNetworkOptions = {}): NetworkModel {
  const maxLoss = opts.maxLossRate ?? DEFAULT_MAX_LOSS_RATE;
  const maxDup = opts.maxDuplicateRate ?? DEFAULT_MAX_DUPLICATE_RATE;
  const maxLatencyMs = opts.maxLatencyMs ?? DEFAULT_MAX_LATENCY_MS;
  checkRate(maxLoss, 'maxLossRate');
  checkRate(maxDup, 'maxDuplicateRate');
  checkMs(maxLatencyMs, 'maxLatencyMs');
  const defaultLink = randomLink(prng, maxLoss, maxDup, maxLatencyMs);
  const nodes = opts.nodes;
  if (nodes === undefined) return { defaultLink };
  const overrideRate = opts.overrideRate ?? DEFAULT_OVERRIDE_RATE;
  checkRate(overrideRate, 'overrideRate');
  const linkOverrides: Array<{ from: NodeId; to: NodeId; link: LinkModel }> = [];
  for (const from of nodes) {
    for (const to of nodes) {
      if (from !== to && prng.chance(overrideRate)) {
        linkOverrides.push({ from, to, link: randomLink(prng, maxLoss, maxDup, maxLatencyMs) });
      }
    }
  }
  return { defaultLink, linkOverrides };
}
