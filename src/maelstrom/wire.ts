/**
 * Maelstrom's wire format (doc/protocol.md): one JSON object per line, `{src, dest, body}`, where `body` has a
 * string `type` and optional integer `msg_id` / `in_reply_to`. Shared by the node driver and the harness.
 */
import { z } from 'zod';
import type { Body } from './service.js';

/** Maelstrom's `Int`: JSON numbers that are safe integers (zod's `int()` also rejects unsafe ones). */
export const maelstromInt = z.number().int();

/** Bodies keep every field: workloads define their own (`echo`, `message`, `delta`, …). */
export const bodySchema = z.looseObject({
  type: z.string().min(1),
  msg_id: maelstromInt.optional(),
  in_reply_to: maelstromInt.optional(),
});

/** Loose at the top level too: Maelstrom adds its own bookkeeping (an `id`) to envelopes. */
export const envelopeSchema = z.looseObject({
  src: z.string().min(1),
  dest: z.string().min(1),
  body: bodySchema,
});

export type Envelope = z.infer<typeof envelopeSchema>;

export const initBodySchema = z.looseObject({
  type: z.literal('init'),
  msg_id: maelstromInt,
  node_id: z.string().min(1),
  node_ids: z.array(z.string().min(1)).min(1),
});

export const errorBodySchema = z.looseObject({
  type: z.literal('error'),
  code: maelstromInt,
  text: z.string().optional(),
});

/** The body chatterbox nodes wrap their protocol messages in: the workload's name and base64 msgpack bytes. */
export const peerBodySchema = z.looseObject({
  type: z.literal('chatterbox'),
  workload: z.string().min(1),
  m: z.string(),
});

export const PEER_MESSAGE_TYPE = 'chatterbox';

/** The first zod issue as one short line, for error replies and logs. */
export function issueText(error: z.ZodError): string {
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
