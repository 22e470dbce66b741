/**
 * Free TCP ports for the children the supervisor starts (`chatterbox cluster`, tests, benchmarks): the OS picks
 * them (listen on port 0), we read and release them. All listeners are open at once, so the ports are distinct;
 * another process may still take one between release and use, which is acceptable for local clusters and tests.
 */
import { createServer, type Server } from 'node:net';

export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`bad port count: ${count}`);
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnAnyPort(host));
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

function listenOnAnyPort(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('a TCP server has no port');
  return address.port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
