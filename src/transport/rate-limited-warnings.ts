/**
 * Rate-limited warn lines for events a remote party can cause at will, such as refused connections. In the
 * transport layer, its one user, so that the transport needs nothing from the runtime (pino's Logger type only).
 */
import type { Logger } from 'pino';

/** Lines a RateLimitedWarnings writes one by one per interval; later ones are counted and summed up. */
export const WARN_BURST_LINES = 10;
/** The interval of RateLimitedWarnings (the kernel's printk_ratelimit uses the same 10 lines per 5 s). */
export const WARN_BURST_INTERVAL_MS = 5_000;

/**
 * Warn lines about events a remote party can cause at will, such as refused connections: the first
 * WARN_BURST_LINES of an interval are logged as they come, so a user sees what happens and to whom; the rest are
 * only counted, by kind, and logged as one summary line when the interval ends (or at `flush`), with the last
 * one's fields as a sample. A flood of hostile connections thus costs at most WARN_BURST_LINES + 1 lines per
 * WARN_BURST_INTERVAL_MS, and nothing goes uncounted.
 */
export class RateLimitedWarnings<Kind extends string> {
  private logged = 0;
  private suppressed = new Map<Kind, number>();
  private sample: object | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    /** The summary line's message. */
    private readonly summary: string,
    private readonly burst: number = WARN_BURST_LINES,
    private readonly intervalMs: number = WARN_BURST_INTERVAL_MS,
  ) {}

  warn(kind: Kind, fields: object, message: string): void {
    // The interval starts with its first line; the timer keeps no process alive.
    this.timer ??= setTimeout(() => this.endInterval(), this.intervalMs).unref();
    if (this.logged < this.burst) {
      this.logged++;
      this.log.warn({ ...fields, kind }, message);
      return;
    }
    this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1);
    this.sample = { ...fields, message };
  }

  /** Ends the interval now, logging the summary if anything was held back (call on shutdown). */
  flush(): void {
    clearTimeout(this.timer);
    this.endInterval();
  }

  private endInterval(): void {
    this.timer = undefined;
    this.logged = 0;
    if (this.suppressed.size === 0) return;
    const notLogged = Object.fromEntries(this.suppressed);
    const total = [...this.suppressed.values()].reduce((sum, n) => sum + n, 0);
    this.log.warn({ notLogged, total, intervalMs: this.intervalMs, last: this.sample }, this.summary);
    this.suppressed = new Map();
    this.sample = undefined;
  }
}
