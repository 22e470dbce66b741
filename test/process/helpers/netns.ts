/**
 * Separate hosts on one machine, for tests: each host is a Linux network namespace with a veth pair into one
 * bridge and an address of a private /24; the test process itself stands on the bridge too (the namespace's
 * ".254"), so it reaches the hosts' listeners on their addresses only, never through loopback.
 *
 *   root namespace (this process)          cbt<pid>abr  10.213.S.254/24   (the bridge)
 *     ├─ cbt<pid>ar1 ══ veth ══ cbt<pid>an1   in namespace cbt<pid>a-h1   10.213.S.1/24, lo up
 *     ├─ cbt<pid>ar2 ══ veth ══ cbt<pid>an2   in namespace cbt<pid>a-h2   10.213.S.2/24, lo up
 *     └─ …
 *
 * Names carry this process's pid (unique among running test processes) and a letter per lab of the process, and
 * the subnet S is one that no address or route of the root namespace uses yet (another lab's bridge holds its
 * own), so labs at once never clash and a clash with the machine's own networks is unlikely (10.213/16 is
 * private and rare). Interface names stay within Linux's 15 characters (3 + a 7-digit pid + 1 + 1 + 3 digits).
 *
 * A cut sets the root side of the host's veth down: its peer inside the namespace loses its carrier, so frames
 * stop both ways at once and nothing tells the endpoints (no RST, no ICMP: TCP connections stay open and their
 * segments vanish, as on a pulled cable); a host that then needs its neighbours' MAC addresses sees
 * EHOSTUNREACH once ARP gives up. A heal sets it up again.
 *
 * Teardown always runs and leaves nothing behind: `destroy()` (a test's `after` hook) kills what the lab
 * started, then deletes the root-side veths (which takes their peers), the namespaces and the bridge; the same
 * runs synchronously when this process exits or is told to stop by a signal; and `createNetnsLab` first removes
 * what labs of test processes that no longer run left behind (a SIGKILLed run gets no hook).
 *
 * Needs root and iproute2 (`ip`); `netnsUnavailable()` says, in one short phrase, why a machine cannot run it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { MAIN, startProcess, type Running } from './processes.js';

/** Every name a lab creates starts with this and a pid: `cbt<pid>…` (chatterbox test). */
export const NETNS_NAME_PREFIX = 'cbt';
/** The /16 whose /24s labs take, one per lab. */
const NET_PREFIX = '10.213';
/** The root namespace's own address on the bridge, last octet. Hosts are 1..MAX_HOSTS. */
const BRIDGE_OCTET = 254;
/** Hosts one lab may hold: addresses .1 to .MAX_HOSTS of its /24 (and veth names stay short). */
export const MAX_HOSTS = 200;
/** Labs one process may make (their names differ by one letter, a..z). */
const MAX_LABS_PER_PROCESS = 26;
/** How long one `ip` command may run before it counts as hung: far above the milliseconds it takes. */
const IP_COMMAND_HUNG_MS = 30_000;

export interface NetHost {
  /** 1-based, in the order the hosts were added. */
  readonly index: number;
  /** The host's name in messages: "h1", … */
  readonly name: string;
  /** The network namespace. */
  readonly netns: string;
  /** Its IPv4 address on the bridge. */
  readonly address: string;
  /** The veth end in the root namespace, a port of the bridge: what `cut` sets down. */
  readonly rootLink: string;
  /** The veth end inside the namespace, which carries `address`. */
  readonly link: string;
}

/** Runs `ip <args>`; resolves with stdout, rejects with the command and its stderr. */
function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: IP_COMMAND_HUNG_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || error.message}`));
    });
  });
}

/** `ip <args>` for teardown: what is already gone is fine, so failures are ignored. Synchronous for exit hooks. */
function ipQuietSync(args: readonly string[]): string {
  try {
    return execFileSync('ip', [...args], { timeout: IP_COMMAND_HUNG_MS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/**
 * Why this machine cannot run network-namespace tests, in a short phrase ("not root", …), or undefined when it
 * can: the probe creates a namespace and deletes it, which is what the lab needs.
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root';
  try {
    await ip(['-V']);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || /ENOENT/.test(String(error)) ? 'no `ip` command (iproute2)' : `\`ip -V\` failed: ${firstLine(String(error))}`;
  }
  const probe = `${NETNS_NAME_PREFIX}${process.pid}probe`;
  try {
    await ip(['netns', 'add', probe]);
  } catch (error) {
    return `\`ip netns add\` failed: ${firstLine((error as Error).message)}`;
  } finally {
    ipQuietSync(['netns', 'del', probe]);
  }
  return undefined;
}

/** Whether a process with this pid runs (ours or not); EPERM means it runs under another user. */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Namespaces and links (in the root namespace) with our prefix, with the pid in their name. */
function labObjectsSync(): { readonly netns: Array<{ name: string; pid: number }>; readonly links: Array<{ name: string; pid: number }> } {
  const ours = new RegExp(`^${NETNS_NAME_PREFIX}(\\d+)`);
  const pick = (names: string[]): Array<{ name: string; pid: number }> =>
    names.flatMap((name) => {
      const match = ours.exec(name);
      return match === null ? [] : [{ name, pid: Number(match[1]) }];
    });
  // `ip netns list` prints "name" or "name (id: 3)"; `ip -o link` prints "7: name@if6: <…>".
  const netns = ipQuietSync(['netns', 'list']).split('\n').map((line) => line.trim().split(/\s/)[0] ?? '');
  const links = ipQuietSync(['-o', 'link', 'show']).split('\n').map((line) => (line.split(': ')[1] ?? '').split('@')[0] ?? '');
  return { netns: pick(netns), links: pick(links) };
}

/** Every namespace and link named with our prefix, whichever lab made them; for tests of the teardown. */
export function leftoversOf(pid: number): string[] {
  const { netns, links } = labObjectsSync();
  return [...netns, ...links].filter((o) => o.pid === pid).map((o) => o.name);
}

/** Kills every process inside a namespace (only processes a lab started ever run there), then deletes it. */
function deleteNetnsSync(netns: string): void {
  for (const pid of ipQuietSync(['netns', 'pids', netns]).split('\n').map(Number)) {
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  ipQuietSync(['netns', 'del', netns]);
}

/** Removes what labs of test processes that no longer run left behind (a SIGKILLed run had no exit hook). */
export function sweepStaleLabs(): void {
  const { netns, links } = labObjectsSync();
  const stale = (o: { pid: number }): boolean => o.pid !== process.pid && !pidRuns(o.pid);
  for (const link of links.filter(stale)) ipQuietSync(['link', 'del', link.name]);
  for (const ns of netns.filter(stale)) deleteNetnsSync(ns.name);
}

/** A /24 of 10.213/16 that no address or route of the root namespace uses, starting from one the pid picks. */
async function freeSubnet(): Promise<number> {
  const used = `${await ip(['-4', '-o', 'addr', 'show'])}\n${await ip(['-4', 'route', 'show', 'table', 'all'])}`;
  const first = process.pid % 250;
  for (let i = 0; i < 250; i++) {
    const octet = ((first + i) % 250) + 1;
    if (!used.includes(`${NET_PREFIX}.${octet}.`)) return octet;
  }
  throw new Error(`no free /24 left in ${NET_PREFIX}.0.0/16`);
}

export class NetnsLab {
  readonly hosts: NetHost[] = [];
  /** This process's address on the bridge: where the hosts see the test's connections come from. */
  readonly bridgeAddress: string;
  readonly bridge: string;
  private readonly prefix: string;
  private readonly running: Running[] = [];
  private destroyed = false;
  private readonly onExit = (): void => this.destroySync();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.destroySync();
    // Ours was the only listener: do what the signal would have done. Otherwise the other listener decides.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  private static readonly SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

  /** Labs this process made: a letter after the pid tells them apart (a..z, then a bound). */
  private static made = 0;

  private constructor(private readonly subnet: number) {
    if (NetnsLab.made >= MAX_LABS_PER_PROCESS) throw new RangeError(`at most ${MAX_LABS_PER_PROCESS} labs in one process`);
    this.prefix = `${NETNS_NAME_PREFIX}${process.pid}${String.fromCharCode(0x61 + NetnsLab.made++)}`;
    this.bridge = `${this.prefix}br`;
    this.bridgeAddress = `${NET_PREFIX}.${subnet}.${BRIDGE_OCTET}`;
    process.on('exit', this.onExit);
    for (const signal of NetnsLab.SIGNALS) process.once(signal, this.onSignal);
  }

  /** A bridge with this process on it, and `hostCount` hosts. Needs what `netnsUnavailable` probes. */
  static async create(hostCount: number): Promise<NetnsLab> {
    sweepStaleLabs();
    const lab = new NetnsLab(await freeSubnet());
    try {
      await ip(['link', 'add', lab.bridge, 'type', 'bridge']);
      await ip(['addr', 'add', `${lab.bridgeAddress}/24`, 'dev', lab.bridge]);
      await ip(['link', 'set', lab.bridge, 'up']);
      for (let i = 0; i < hostCount; i++) await lab.addHost();
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  /** The host with this 1-based index. */
  host(index: number): NetHost {
    const host = this.hosts[index - 1];
    if (host === undefined) throw new RangeError(`no host h${index}: the lab has ${this.hosts.length}`);
    return host;
  }

  /** A fresh host on the bridge: its namespace, veth pair, address, and loopback up. */
  async addHost(): Promise<NetHost> {
    if (this.destroyed) throw new Error('the lab is destroyed');
    const index = this.hosts.length + 1;
    if (index > MAX_HOSTS) throw new RangeError(`at most ${MAX_HOSTS} hosts in one lab`);
    const host: NetHost = {
      index,
      name: `h${index}`,
      netns: `${this.prefix}-h${index}`,
      address: `${NET_PREFIX}.${this.subnet}.${index}`,
      rootLink: `${this.prefix}r${index}`,
      link: `${this.prefix}n${index}`,
    };
    // Pushed first, so that teardown knows the host even if a step below fails.
    this.hosts.push(host);
    await ip(['netns', 'add', host.netns]);
    await ip(['link', 'add', host.rootLink, 'type', 'veth', 'peer', 'name', host.link, 'netns', host.netns]);
    await ip(['link', 'set', host.rootLink, 'master', this.bridge]);
    await ip(['link', 'set', host.rootLink, 'up']);
    await ip(['-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', host.link]);
    await ip(['-n', host.netns, 'link', 'set', host.link, 'up']);
    await ip(['-n', host.netns, 'link', 'set', 'lo', 'up']);
    return host;
  }

  /** Starts `command <args>` inside the host's namespace, through the supervisor (`ip netns exec`). */
  run(host: NetHost, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
    if (this.destroyed) throw new Error('the lab is destroyed');
    const started = startProcess('ip', ['netns', 'exec', host.netns, command, ...args], env);
    this.running.push(started);
    return started;
  }

  /** Starts `chatterbox <argv>` (the built CLI) on the host. */
  exec(host: NetHost, argv: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
    return this.run(host, process.execPath, [MAIN, ...argv], env);
  }

  /** Cuts the host off the bridge, both ways: its veth's root end goes down, so the namespace end loses carrier. */
  async cut(host: NetHost): Promise<void> {
    await ip(['link', 'set', host.rootLink, 'down']);
  }

  /** Puts the host back on the bridge. */
  async heal(host: NetHost): Promise<void> {
    await ip(['link', 'set', host.rootLink, 'up']);
  }

  /** Whether the host's namespace end of its veth has carrier (false while cut). */
  async linked(host: NetHost): Promise<boolean> {
    const shown = await ip(['-n', host.netns, '-o', 'link', 'show', host.link]);
    return !/NO-CARRIER/.test(shown) && /state UP/.test(shown);
  }

  /** Kills what the lab started (waiting for each to exit), then removes every namespace, link and the bridge. */
  async destroy(): Promise<void> {
    for (const started of this.running) started.child.signal('SIGKILL');
    await Promise.all(this.running.map((started) => started.exited));
    this.destroySync();
  }

  /** The teardown, synchronous (for exit hooks). Safe to run twice and after a partial setup. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const started of this.running) started.child.signal('SIGKILL');
    // Deleting one end of a veth deletes both, even while a process still holds the namespace.
    for (const host of this.hosts) ipQuietSync(['link', 'del', host.rootLink]);
    for (const host of this.hosts) deleteNetnsSync(host.netns);
    ipQuietSync(['link', 'del', this.bridge]);
    process.off('exit', this.onExit);
    for (const signal of NetnsLab.SIGNALS) process.off(signal, this.onSignal);
  }
}
