/**
 * "host:port" as one string, the way addresses travel in hellos and membership gossip: IPv6 literals in
 * brackets ("[::1]:7000"), names and IPv4 addresses bare. One parser and one formatter, so both ends agree.
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The host and port of "host:port" or "[v6]:port", or undefined when it is not one (port 1..65535). */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (host === '' || port < 1 || port > 65_535) return undefined;
  return { host, port };
}
