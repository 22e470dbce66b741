/**
 * A Maelstrom node on this process's stdin and stdout: `chatterbox maelstrom` hosting the shipped workloads, or a
 * program of your own hosting its own (`runMaelstromStdio({ workloads: [mine] })`). Logs go to stderr, as
 * Maelstrom wants; the node exits when stdin closes.
 */
import { createLogger, type Logger } from '../platform/log.js';
import { checkStdin } from '../platform/stdin.js';
import { loadHosting, runMaelstromNode, type Hosting, type StoreOpener } from './node.js';
import type { Workload } from './service.js';

export interface MaelstromStdioOptions {
  /** The workloads to host; default: the shipped ones (broadcast, g-set, pn-counter). */
  readonly workloads?: readonly Workload[];
  /** Passed to `workload.options({ preset })`. Default 'latency'. */
  readonly preset?: string;
  /** Passed to `workload.options` as `topology` (broadcast: `own`, the default, or `follow`). */
  readonly topology?: string;
  /** Default: JSON lines on stderr at info level. */
  readonly log?: Logger;
  /** The node's durable store, opened at init (see `MaelstromNodeOptions.openStore`); default: in memory. */
  readonly openStore?: StoreOpener;
}

/** Given workloads with the transport codec their messages travel in, loaded when first needed. */
export function hostingOf(workloads: readonly Workload[]): () => Promise<Hosting> {
  return async () => ({ workloads, codec: await import('../transport/codec.js') });
}

/** Runs until stdin closes; resolves with the exit status (0). Throws a UsageError when stdin is a directory. */
export function runMaelstromStdio(options: MaelstromStdioOptions = {}): Promise<number> {
  checkStdin();
  const log = options.log ?? createLogger();
  // Whoever reads our stdout is gone (Maelstrom or the harness stopped): there is nobody left to answer.
  // This replaces any generic handler: whatever the error, Maelstrom's end of the pipe is gone.
  process.stdout.removeAllListeners('error');
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    log.warn({ code: error.code }, 'stdout closed; exiting');
    process.exit(0);
  });
  return runMaelstromNode(
    { input: process.stdin, output: process.stdout, log },
    { preset: options.preset ?? 'latency', ...(options.openStore === undefined ? {} : { openStore: options.openStore }), ...(options.topology === undefined ? {} : { topology: options.topology }) },
    options.workloads === undefined ? loadHosting : hostingOf(options.workloads),
  );
}
