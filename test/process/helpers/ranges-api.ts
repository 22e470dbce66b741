/**
 * The key-range HTTP API as the process tests call it, and the one polling wait they share: ranges-node,
 * ranges-join and multi-host each had their own copies of these three functions.
 */
import assert from 'node:assert/strict';
import { HUNG_AFTER_MS } from './processes.js';

export interface ApiReply {
  readonly status: number;
  readonly json: unknown;
}

/** A node's API: a loopback port, or a base URL (a node on another host). */
export type ApiTarget = number | string;

function baseUrl(target: ApiTarget): string {
  return typeof target === 'number' ? `http://127.0.0.1:${target}` : target;
}

/**
 * One request; POST bodies as JSON. With `timeoutMs` a request that hangs fails after it (the multi-host test,
 * whose cut links can swallow a request); without it the test's own hang limit applies.
 */
export async function api(target: ApiTarget, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<ApiReply> {
  const response = await fetch(`${baseUrl(target)}${path}`, {
    method,
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
    ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: body === undefined ? '' : JSON.stringify(body) } : {}),
  });
  return { status: response.status, json: await response.json() };
}

/** A request that must succeed (200); its result. */
export async function ok(target: ApiTarget, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<unknown> {
  const reply = await api(target, method, path, body, timeoutMs);
  assert.equal(reply.status, 200, `${method} ${path} on ${baseUrl(target)}: ${JSON.stringify(reply.json)}`);
  return (reply.json as { result: unknown }).result;
}

/** Polls `check` every `everyMs` until it holds; fails with `describe()` only once the nodes look hung. */
export async function until(check: () => Promise<boolean>, describe: () => Promise<string>, withinMs = HUNG_AFTER_MS, everyMs = 50): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not reached within ${withinMs} ms: ${await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
