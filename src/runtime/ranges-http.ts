/**
 * The local HTTP API of a ranges node, as pure functions: a request's method, URL and body → one
 * `RangesRequest` (without its id), or an HTTP error; a protocol reply → status and JSON body. No sockets here
 * (ranges-node.ts serves it), so every rule below is testable on its own.
 *
 * Routes (group names are one path segment, percent-encoded as needed):
 *
 *   GET    /groups                                   → ["users", …]
 *   GET    /groups/:group/members                    → ["n1", …]
 *   GET    /groups/:group/topology                   → [{ start, end, nodes: [registration, …] }, …]
 *   GET    /groups/:group/lookup?key=alice           → { position, nodes: [registration, …] } (best first)
 *   GET    /groups/:group/lookup?position=123        (a raw position instead of a hashed key)
 *   POST   /groups/:group/join                       (no body, or {})
 *   POST   /groups/:group/leave                      (no body, or {})
 *   POST   /groups/:group/ranges                     { start, end, meta? }   register (or update meta)
 *   DELETE /groups/:group/ranges?start=…&end=…       release
 *   POST   /groups/:group/ranges/increase            { start, end, by }
 *   POST   /groups/:group/ranges/decrease            { start, end, by }
 *   GET    /node                                     → { id, clusterId, address, nodes (the live members) }
 *   GET    /members                                  → [{ node, address, incarnation, state }, …] (the cluster's)
 *   POST   /members/:node/forget                     → { node, released } (a node seen dead or left)
 *   POST   /leave                                    this node leaves the cluster (releasing its ranges), then stops
 *
 * A registration is `{ node, start, end, priority, meta }`. Success is 200 with `{ "result": … }` (null for
 * writes); failure is `{ "error": { "code", "message" } }` with the status of ERROR_STATUS. POST bodies must be
 * sent as `Content-Type: application/json` (also when empty), which keeps web pages from posting to the API
 * across origins.
 */
import * as z from 'zod';
import type { PlainData } from '../crdt/data.js';
import type { RangesErrorCode, RangesReply, RangesRequest } from '../ranges/protocol.js';

/** Bodies above this are refused with 413 before they are read in full. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Group names longer than this are refused: they would be stored and shipped to every node. */
export const MAX_GROUP_CHARS = 1024;

export type HttpErrorCode =
  | RangesErrorCode
  | 'not-found'
  | 'method-not-allowed'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'forbidden'
  | 'unavailable'
  | 'internal';

export const ERROR_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  'bad-request': 400,
  'bad-range': 400,
  forbidden: 403,
  'unknown-group': 404,
  'not-found': 404,
  'method-not-allowed': 405,
  'not-member': 409,
  'not-dead': 409,
  'no-membership': 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  internal: 500,
  unavailable: 503,
};

export interface HttpError {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly message: string;
  /** For 405: the methods the path does take. */
  readonly allow?: readonly string[];
}

export function httpError(code: HttpErrorCode, message: string, allow?: readonly string[]): HttpError {
  return { status: ERROR_STATUS[code], code, message, ...(allow === undefined ? {} : { allow }) };
}

/** A RangesRequest before the server numbers it. */
export type RangesCall = RangesRequest extends infer R ? (R extends RangesRequest ? Omit<R, 'id'> : never) : never;

/** What the router needs to know about the request; `body` is read only when `needsBody` said so. */
export interface HttpInput {
  readonly method: string;
  /** The request target, as in the request line (`/groups/users/lookup?key=a`). */
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** `node` and `leave` (the cluster, gracefully, then stop) are the server's own, not the protocol's. */
export type Routed = { readonly ok: true; readonly call: RangesCall } | { readonly ok: true; readonly call: 'node' | 'leave' } | { readonly ok: false; readonly error: HttpError };

const rangeBody = z.strictObject({ start: z.number(), end: z.number(), meta: z.unknown().optional() });
const amountBody = z.strictObject({ start: z.number(), end: z.number(), by: z.number() });
const emptyBody = z.strictObject({});

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const where = issue.path.length === 0 ? 'body' : `body.${issue.path.map(String).join('.')}`;
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

function parseBody<T>(input: HttpInput, schema: z.ZodType<T>, optional: boolean): { ok: true; value: T } | { ok: false; error: HttpError } {
  const text = input.body.trim();
  let json: unknown;
  if (text.length === 0) {
    if (!optional) return { ok: false, error: httpError('bad-request', 'expected a JSON object as the body') };
    json = {};
  } else {
    try {
      json = JSON.parse(text);
    } catch (error) {
      return { ok: false, error: httpError('bad-request', `the body is not valid JSON (${error instanceof Error ? error.message : String(error)})`) };
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, error: httpError('bad-request', describeIssues(parsed.error)) };
  return { ok: true, value: parsed.data };
}

/** A number from the query string: decimal (sign allowed, so the protocol can say "below the key space") or 0x hex. */
function integerParam(name: string, raw: string): number | HttpError {
  const value = /^-?\d{1,20}$/.test(raw) ? Number(raw) : /^0x[0-9a-f]{1,16}$/i.test(raw) ? Number.parseInt(raw.slice(2), 16) : NaN;
  if (!Number.isSafeInteger(value)) return httpError('bad-request', `query parameter ${name} must be an integer (decimal or 0x hex), got ${JSON.stringify(raw)}`);
  return value;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json';
}

/** The query's parameters; each must appear at most once and be one of `allowed`. */
function queryParams(search: URLSearchParams, allowed: readonly string[]): Map<string, string> | HttpError {
  const params = new Map<string, string>();
  for (const [name, value] of search) {
    if (!allowed.includes(name)) {
      return httpError('bad-request', `unknown query parameter ${JSON.stringify(name)}${allowed.length === 0 ? '' : `; expected ${allowed.join(', ')}`}`);
    }
    if (params.has(name)) return httpError('bad-request', `query parameter ${name} given twice`);
    params.set(name, value);
  }
  return params;
}

function isError(value: unknown): value is HttpError {
  return typeof value === 'object' && value !== null && 'status' in value && 'code' in value;
}

/** One path: a handler for each method it takes. */
interface Route {
  readonly methods: Readonly<Record<string, (group: string, input: HttpInput, query: URLSearchParams) => Routed>>;
}

const fail = (error: HttpError): Routed => ({ ok: false, error });

function noQuery(query: URLSearchParams): HttpError | undefined {
  const params = queryParams(query, []);
  return isError(params) ? params : undefined;
}

function readOp(op: 'members' | 'topology') {
  return (group: string, _input: HttpInput, query: URLSearchParams): Routed => {
    const bad = noQuery(query);
    return bad !== undefined ? fail(bad) : { ok: true, call: { op, group } };
  };
}

function membershipOp(op: 'join' | 'leave') {
  return (group: string, input: HttpInput, query: URLSearchParams): Routed => {
    const bad = noQuery(query);
    if (bad !== undefined) return fail(bad);
    const body = parseBody(input, emptyBody, true);
    return body.ok ? { ok: true, call: { op, group } } : fail(body.error);
  };
}

function amountOp(op: 'increase' | 'decrease') {
  return (group: string, input: HttpInput, query: URLSearchParams): Routed => {
    const bad = noQuery(query);
    if (bad !== undefined) return fail(bad);
    const body = parseBody(input, amountBody, false);
    return body.ok ? { ok: true, call: { op, group, start: body.value.start, end: body.value.end, by: body.value.by } } : fail(body.error);
  };
}

/** /groups itself. */
const GROUPS_ROUTE: Route = {
  methods: {
    GET(_group, _input, query) {
      const bad = noQuery(query);
      return bad !== undefined ? fail(bad) : { ok: true, call: { op: 'groups' } };
    },
  },
};

/** The routes under /groups/:group, by the rest of the path. */
const GROUP_ROUTES: Readonly<Record<string, Route>> = {
  members: { methods: { GET: readOp('members') } },
  topology: { methods: { GET: readOp('topology') } },
  lookup: {
    methods: {
      GET(group, _input, query) {
        const params = queryParams(query, ['key', 'position']);
        if (isError(params)) return fail(params);
        const key = params.get('key');
        const position = params.get('position');
        if ((key === undefined) === (position === undefined)) return fail(httpError('bad-request', 'give exactly one of the query parameters key and position'));
        if (key !== undefined) return { ok: true, call: { op: 'lookup', group, key } };
        const value = integerParam('position', position!);
        return isError(value) ? fail(value) : { ok: true, call: { op: 'lookup', group, key: value } };
      },
    },
  },
  join: { methods: { POST: membershipOp('join') } },
  leave: { methods: { POST: membershipOp('leave') } },
  ranges: {
    methods: {
      POST(group, input, query) {
        const bad = noQuery(query);
        if (bad !== undefined) return fail(bad);
        const body = parseBody(input, rangeBody, false);
        if (!body.ok) return fail(body.error);
        const { start, end, meta } = body.value;
        // `meta` is whatever JSON gave; the protocol checks that it is plain data (depth, no __proto__ keys).
        return { ok: true, call: meta === undefined ? { op: 'register', group, start, end } : { op: 'register', group, start, end, meta: meta as PlainData } };
      },
      DELETE(group, input, query) {
        const params = queryParams(query, ['start', 'end']);
        if (isError(params)) return fail(params);
        if (input.body.trim().length > 0) return fail(httpError('bad-request', 'DELETE takes the range in the query (?start=…&end=…), not in a body'));
        const rawStart = params.get('start');
        const rawEnd = params.get('end');
        if (rawStart === undefined || rawEnd === undefined) return fail(httpError('bad-request', 'give the range to release as ?start=…&end=…'));
        const start = integerParam('start', rawStart);
        if (isError(start)) return fail(start);
        const end = integerParam('end', rawEnd);
        if (isError(end)) return fail(end);
        return { ok: true, call: { op: 'release', group, start, end } };
      },
    },
  },
  'ranges/increase': { methods: { POST: amountOp('increase') } },
  'ranges/decrease': { methods: { POST: amountOp('decrease') } },
};

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function dispatch(route: Route, input: HttpInput, group: string, query: URLSearchParams): Routed {
  const method = input.method.toUpperCase();
  const handler = Object.hasOwn(route.methods, method) ? route.methods[method] : undefined;
  const allow = Object.keys(route.methods);
  if (handler === undefined) return fail(httpError('method-not-allowed', `${method} is not allowed here; use ${allow.join(' or ')}`, allow));
  if (method === 'POST' && !isJson(input.contentType)) {
    return fail(httpError('unsupported-media-type', 'send the body as Content-Type: application/json (also when it is empty)'));
  }
  return handler(group, input, query);
}

/** Whether the method sends a body the router reads (others are refused before the body is read). */
export function methodTakesBody(method: string): boolean {
  return method.toUpperCase() === 'POST' || method.toUpperCase() === 'DELETE';
}

/** The cluster's members (`GET /members`) and forgetting a dead one (`POST /members/:node/forget`); undefined: no such route. */
function routeMembers(input: HttpInput, segments: readonly string[], query: URLSearchParams): Routed | undefined {
  if (segments.length === 1) {
    const list = (_g: string, _i: HttpInput, q: URLSearchParams): Routed => {
      const bad = noQuery(q);
      return bad !== undefined ? fail(bad) : { ok: true, call: { op: 'cluster-members' } };
    };
    return dispatch({ methods: { GET: list } }, input, '', query);
  }
  if (segments.length !== 3 || segments[2] !== 'forget') return undefined;
  const node = decodeSegment(segments[1]!);
  if (node === undefined || node.length === 0) return fail(httpError('bad-request', `the node id ${JSON.stringify(segments[1])} is empty or not validly percent-encoded`));
  const forget = (_g: string, body: HttpInput, q: URLSearchParams): Routed => {
    const bad = noQuery(q);
    if (bad !== undefined) return fail(bad);
    const parsed = parseBody(body, emptyBody, true);
    return parsed.ok ? { ok: true, call: { op: 'forget', node } } : fail(parsed.error);
  };
  return dispatch({ methods: { POST: forget } }, input, '', query);
}

/** Maps an HTTP request to a call of the protocol, or to the error to answer with. */
export function routeRangesHttp(input: HttpInput): Routed {
  let url: URL;
  try {
    url = new URL(input.url, 'http://localhost');
  } catch {
    return fail(httpError('bad-request', 'malformed request target'));
  }
  // One trailing slash is forgiven: /groups/ is /groups.
  const path = url.pathname.length > 1 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  const segments = path.split('/').slice(1);
  const notFound = fail(httpError('not-found', `no such route: ${input.method.toUpperCase()} ${path}; see GET /groups, /groups/:group/{members,topology,lookup,join,leave,ranges}, /members`));
  if (segments[0] === 'node' && segments.length === 1) {
    if (input.method.toUpperCase() !== 'GET') return fail(httpError('method-not-allowed', `${input.method.toUpperCase()} is not allowed here; use GET`, ['GET']));
    const bad = noQuery(url.searchParams);
    return bad !== undefined ? fail(bad) : { ok: true, call: 'node' };
  }
  if (segments[0] === 'members') return routeMembers(input, segments, url.searchParams) ?? notFound;
  if (segments[0] === 'leave' && segments.length === 1) {
    const leave = (_g: string, body: HttpInput, q: URLSearchParams): Routed => {
      const bad = noQuery(q);
      if (bad !== undefined) return fail(bad);
      const parsed = parseBody(body, emptyBody, true);
      return parsed.ok ? { ok: true, call: 'leave' } : fail(parsed.error);
    };
    return dispatch({ methods: { POST: leave } }, input, '', url.searchParams);
  }
  if (segments[0] !== 'groups') return notFound;
  if (segments.length === 1) return dispatch(GROUPS_ROUTE, input, '', url.searchParams);
  const rest = segments.slice(2).join('/');
  // Own keys only: /groups/g/toString must not find Object.prototype's.
  const route = Object.hasOwn(GROUP_ROUTES, rest) ? GROUP_ROUTES[rest] : undefined;
  if (route === undefined) return notFound;
  const group = decodeSegment(segments[1]!);
  if (group === undefined) return fail(httpError('bad-request', `the group name ${JSON.stringify(segments[1])} is not validly percent-encoded`));
  if (group.length === 0) return fail(httpError('bad-request', 'the group name must not be empty'));
  if (group.length > MAX_GROUP_CHARS) return fail(httpError('bad-request', `the group name is ${group.length} characters long; at most ${MAX_GROUP_CHARS} are allowed`));
  return dispatch(route, input, group, url.searchParams);
}

/** The status and body for a protocol reply. */
export function replyToHttp(reply: RangesReply): { status: number; body: unknown } {
  if (reply.ok) return { status: 200, body: { result: reply.result } };
  return { status: ERROR_STATUS[reply.error.code], body: { error: reply.error } };
}

export function errorBody(error: HttpError): { error: { code: HttpErrorCode; message: string } } {
  return { error: { code: error.code, message: error.message } };
}

/** JSON for responses. Meta written through this API is JSON already; other plain data is shown as JSON can. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as Uint8Array);
    return v;
  });
}

/**
 * Whether a Host header names this machine's loopback interface. A node whose API listens on loopback answers
 * only such requests: a web page that rebinds its own DNS name to 127.0.0.1 still sends its name as the Host.
 */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (hostHeader === undefined) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Whether a server listening on `host` listens on loopback only (IPv6 given bare or in brackets). */
export function isLoopbackBind(host: string): boolean {
  return isLoopbackHost(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
}
