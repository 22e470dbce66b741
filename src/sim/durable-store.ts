/**
 * The simulator's durable store: a node's disk as a map that outlives the node's crashes, behind the same
 * `DurableStore` interface as SQLite in processes (kernel/durable-store.ts), and held to the same acceptance
 * suite. Writes are synchronous and crash-proof here, as a crash can only fall between two steps.
 *
 * A `SimDisk` belongs to one node for the whole run; each process of the node opens it once (at its init) and
 * the crash closes that handle. A crash with `loseDurableState` (faults.ts) wipes the disk as well: the node
 * restarts empty, as on a new machine.
 */
import { StoreError, type DurableStore } from '../kernel/durable-store.js';

export class SimDisk {
  private readonly data = new Map<string, Uint8Array>();
  private handle: SimStore | undefined;

  constructor(private readonly name: string) {}

  /** A handle for a new process; the previous one must be closed (a crash closes it), as a file lock demands. */
  open(): DurableStore {
    if (this.handle?.isOpen === true) throw new StoreError('in-use', `the store of ${this.name} is in use by another process`);
    this.handle = new SimStore(this.name, this.data);
    return this.handle;
  }

  /** The disk is lost (a crash with `loseDurableState`): what it held is gone, for every later open. */
  wipe(): void {
    this.data.clear();
  }
}

class SimStore implements DurableStore {
  private open = true;

  constructor(
    private readonly name: string,
    private readonly data: Map<string, Uint8Array>,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  loadAll(): Map<string, Uint8Array> {
    this.checkOpen();
    const copy = new Map<string, Uint8Array>();
    for (const [key, value] of this.data) copy.set(key, value.slice());
    return copy;
  }

  put(key: string, value: Uint8Array | null): void {
    this.checkOpen();
    if (value === null) this.data.delete(key);
    else this.data.set(key, value.slice());
  }

  close(): void {
    this.open = false;
  }

  private checkOpen(): void {
    if (!this.open) throw new StoreError('closed', `the store of ${this.name} is closed`);
  }
}
