/**
 * A hybrid logical clock in integer microseconds: close to the physical clock, strictly increasing per node,
 * and never behind any timestamp the node has seen, so a message sent after receiving another sorts after it.
 * The time comes in as an argument: protocols never read a clock.
 */
export class HybridClock {
  private lastUs = 0;

  /** A fresh timestamp, strictly above every one issued or observed before. */
  issue(nowMs: number): number {
    const physicalUs = Math.floor(nowMs * 1000);
    this.lastUs = physicalUs > this.lastUs ? physicalUs : this.lastUs + 1;
    return this.lastUs;
  }

  observe(timestampUs: number): void {
    if (timestampUs > this.lastUs) this.lastUs = timestampUs;
  }

  /** The last timestamp issued or observed; every future `issue` is above it. */
  get latest(): number {
    return this.lastUs;
  }
}
