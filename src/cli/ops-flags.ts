/**
 * The operator flags of `node` and `chat`: `--metrics-port` (and `--metrics-host`) serve `/metrics`, `/healthz`
 * and `/readyz` (src/runtime/ops-http.ts) on a port of their own. `ranges serve` needs neither: it answers them on
 * its HTTP API. Declared, validated and named in errors here once.
 */
import type { Command } from 'commander';
import type { Logger } from '../platform/log.js';
import { UsageError, systemErrorOf } from '../platform/user-errors.js';
import type { OptionValues } from './command.js';
import { parseHost, parsePort, stringOption } from './flags.js';
import { nodeFailed } from './place-flags.js';

export const METRICS_DEFAULTS = { host: '127.0.0.1' } as const;

/** Where the endpoints listen; undefined without `--metrics-port` (nothing is served). */
export interface MetricsArgs {
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
}

export function addMetricsOptions(cmd: Command): Command {
  return cmd
    .option('--metrics-port <port>', 'serve /metrics (Prometheus text format), /healthz and /readyz on this port, 1..65535 (default: not served)')
    .option('--metrics-host <host>', `address the metrics endpoints listen on, with --metrics-port (default ${METRICS_DEFAULTS.host})`);
}

/** Validates the two flags. Pure. */
export function metricsArgsFromOptions(opts: OptionValues, nodePort: number): MetricsArgs {
  const port = stringOption(opts, 'metricsPort', '--metrics-port');
  const host = stringOption(opts, 'metricsHost', '--metrics-host');
  if (port === undefined) {
    if (host !== undefined) throw new UsageError('--metrics-host: is used only with --metrics-port');
    return { metrics: undefined };
  }
  const parsed = parsePort('--metrics-port', port);
  // Equal ports collide whenever the hosts overlap (localhost and 127.0.0.1, a wildcard): refuse them outright.
  if (parsed === nodePort) throw new UsageError(`--metrics-port: ${parsed} is also the node's -p/--port; give the metrics endpoints a port of their own`);
  // A bracketed IPv6 literal ([::1], as in URLs) is listened on without its brackets.
  return { metrics: { host: host === undefined ? METRICS_DEFAULTS.host : parseHost('--metrics-host', host).replace(/^\[(.*)\]$/, '$1'), port: parsed } };
}

/** `nodeFailed`, naming the metrics flags when it was their port that could not be listened on. */
export function nodeOrMetricsFailed(error: unknown, log: Logger, message: string, metrics: MetricsArgs['metrics']): 1 {
  const onMetricsPort = metrics !== undefined && systemErrorOf(error)?.port === metrics.port;
  return nodeFailed(error, log, message, onMetricsPort ? '--metrics-host, --metrics-port' : undefined);
}
