/**
 * Maelstrom's wire format (doc/protocol.md): one JSON object per line, `{src, dest, body}`, where `body` has a
 * string `type` and optional integer `msg_id` / `in_reply_to`. Shared by the node driver and the harness.
 */
// zod/mini, zod's tree-shakable API: the bundled `chatterbox maelstrom` carries about 20 KB of zod for these
// schemas instead of the whole classic API (450 KB), which it would have to compile before answering init.
import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';
import type { Body } from './service.js';

// zod/mini ships without messages; these are the ones the classic API configures, so texts read the same.
z.config(en());

const nonEmptyString = (): z.ZodMiniString => z.string().check(z.minLength(1));

/** Maelstrom's `Int`: JSON numbers that are safe integers (zod's `int()` also rejects unsafe ones). */
export const maelstromInt = z.int();

/** Bodies keep every field: workloads define their own (`echo`, `message`, `delta`, …). */
export const bodySchema = z.looseObject({
  type: nonEmptyString(),
  msg_id: z.optional(maelstromInt),
  in_reply_to: z.optional(maelstromInt),
});

/** Loose at the top level too: Maelstrom adds its own bookkeeping (an `id`) to envelopes. */
export const envelopeSchema = z.looseObject({
  src: nonEmptyString(),
  dest: nonEmptyString(),
  body: bodySchema,
});

export type Envelope = z.infer<typeof envelopeSchema>;

export const initBodySchema = z.looseObject({
  type: z.literal('init'),
  msg_id: maelstromInt,
  node_id: nonEmptyString(),
  node_ids: z.array(nonEmptyString()).check(z.minLength(1)),
});

export const errorBodySchema = z.looseObject({
  type: z.literal('error'),
  code: maelstromInt,
  text: z.optional(z.string()),
});

/** The body chatterbox nodes wrap their protocol messages in: the workload's name and base64 msgpack bytes. */
export const peerBodySchema = z.looseObject({
  type: z.literal('chatterbox'),
  workload: nonEmptyString(),
  m: z.string(),
});

export const PEER_MESSAGE_TYPE = 'chatterbox';

/** The first zod issue as one short line, for error replies and logs. */
export function issueText(error: z.core.$ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  const at = issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
  return `${at}${issue.message}`;
}

/** Narrows a parsed body to service.ts's `Body` (zod's inferred type has the same shape, with optional keys). */
export function asBody(body: z.infer<typeof bodySchema>): Body {
  return body;
}

/**
 * Errors Maelstrom calls definite (doc/protocol.md, "Errors"): the operation certainly did not happen. Every other
 * code (0 timeout, 13 crash, and codes Maelstrom does not know) is indefinite.
 */
export const DEFINITE_ERROR_CODES: ReadonlySet<number> = new Set([1, 10, 11, 12, 14, 20, 21, 22, 30]);
