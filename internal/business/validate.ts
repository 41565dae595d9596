import { z } from 'zod';
import { CourierError } from '../errors.js';
import { MESSAGE_TYPES, UID_PATTERN, UID_RULE, type Json, type MessageType } from '../protocol/message.js';

// Validation of message input, shared by POST /v1/messages, the batch endpoint and WebSocket `send` frames
// (the worker forwards those here). Errors name the offending field as a path: `to`, `content.productId`.

/** A uid or merchant id (DESIGN §5 charset), with the error every API gives for a bad one. */
export const uidSchema = z.string().regex(UID_PATTERN, UID_RULE);
const conversationId = z.string().min(1).max(191);
const url = z
  .string()
  .max(2048)
  .refine((v) => /^https?:\/\//i.test(v), 'must be an http(s) URL');
// Bodies and frames reach validation through JSON.parse (after json-guard.ts refused what does not survive a
// round trip), so any defined value here is JSON already. Walking it again with a recursive zod union cost
// more CPU per message than the rest of validation together (profiled under load); only presence is checked.
const json = z.custom<Json>((value) => value !== undefined, { message: 'Required' });

function isCustomContent(value: unknown): boolean {
  return typeof value === 'string' || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

/** Each message type's content rule (exported for the test that holds the fast path to it). */
export const contentByType: Record<MessageType, z.ZodType<Json>> = {
  text: z.string().min(1, 'must not be empty'),
  image: z
    .object({
      url,
      width: z.number().int().positive(),
      height: z.number().int().positive(),
      thumbnail: url.optional(),
    })
    .strict(),
  product: z
    .object({
      productId: z.string().min(1).max(128),
      title: z.string().min(1).max(512),
      price: z.union([
        z.number().nonnegative(),
        z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal amount'),
      ]),
      url,
      image: url,
      currency: z
        .string()
        .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code')
        .optional(),
    })
    .strict(),
  order: z
    .object({
      orderId: z.string().min(1).max(128),
      status: z.string().min(1).max(64),
      amount: z.union([
        z.number().nonnegative(),
        z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal amount'),
      ]),
      currency: z
        .string()
        .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code')
        .optional(),
    })
    .strict(),
  // A string or an object of anything. Not z.union([z.string(), z.record(json)]): a union builds an issue
  // (with its message and path) for every option an object fails first, which showed in send-path profiles.
  custom: z.custom<Json>(isCustomContent, { message: 'has the wrong type' }),
};

const target = {
  to: uidSchema.optional(),
  merchant: uidSchema.optional(),
  conversation: conversationId.optional(),
};

/** The body of POST /v1/messages (and each element of a batch). */
export const sendRequestSchema = z
  .object({
    from: uidSchema.optional(),
    ...target,
    type: z.enum(MESSAGE_TYPES),
    content: json,
    clientMsgId: z.string().min(1).max(128).optional(),
  })
  .strict();

// The fast path of the two schemas above, for the input nearly every message is: a plain object whose
// fields are all valid. zod allocates a parse context, a status and a copy per field (about a seventh of the
// send path's garbage in a heap profile); this checks the same rules with none of that and hands anything
// it does not accept to zod, so every error (field path and message) is still zod's.
type FieldCheck = (value: unknown) => boolean;
const isUid: FieldCheck = (v) => typeof v === 'string' && UID_PATTERN.test(v);
const lengthIn =
  (min: number, max: number): FieldCheck =>
  (v) =>
    typeof v === 'string' && v.length >= min && v.length <= max;
const TYPES: ReadonlySet<unknown> = new Set(MESSAGE_TYPES);
const TARGET_CHECKS: Record<string, FieldCheck> = {
  to: isUid,
  merchant: isUid,
  conversation: lengthIn(1, 191),
  type: (v) => TYPES.has(v),
  content: (v) => v !== undefined,
};
const SEND_CHECKS: Record<string, FieldCheck> = {
  ...TARGET_CHECKS,
  from: isUid,
  clientMsgId: lengthIn(1, 128),
};

function quickParse<T>(checks: Record<string, FieldCheck>, value: unknown): T | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const input = value as Record<string, unknown>;
  if (input.type === undefined || input.content === undefined) return undefined; // required: zod says so
  const out: Record<string, unknown> = {};
  for (const key in input) {
    if (!Object.prototype.hasOwnProperty.call(input, key)) continue;
    if (!Object.prototype.hasOwnProperty.call(checks, key)) return undefined; // unknown key
    const field = input[key];
    if (field === undefined) continue;
    if (!(checks[key] as FieldCheck)(field)) return undefined;
    out[key] = field;
  }
  return out as T;
}

/** The body of one message (POST /v1/messages, a batch element), validated; throws naming the field. */
export function parseSendRequest(value: unknown): SendRequest {
  return quickParse<SendRequest>(SEND_CHECKS, value) ?? parseOrThrow(sendRequestSchema, value);
}

/** The `message` of a WebSocket `send` frame, validated; errors are prefixed with `message`. */
export function parseOutgoingMessage(value: unknown): z.infer<typeof outgoingMessageSchema> {
  return (
    quickParse<z.infer<typeof outgoingMessageSchema>>(TARGET_CHECKS, value) ??
    parseOrThrow(outgoingMessageSchema, value, ['message'])
  );
}

/** The `message` of a WebSocket `send` frame: the same fields without `from` and `clientMsgId`. */
export const outgoingMessageSchema = z
  .object({ ...target, type: z.enum(MESSAGE_TYPES), content: json })
  .strict();

export type SendRequest = z.infer<typeof sendRequestSchema>;

export type Target =
  { kind: 'to'; uid: string } | { kind: 'merchant'; merchant: string } | { kind: 'conversation'; id: string };

/** zod error → CourierError naming the first offending field. */
export function fromZodError(error: z.ZodError, prefix: string[] = []): CourierError {
  const issue = error.issues[0];
  if (!issue) return new CourierError('invalid_request', 'invalid request');
  let path = [...prefix, ...issue.path].map(String);
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0] ?? ''];
    message = 'unknown field';
  } else if (issue.code === 'invalid_union') {
    message = 'has the wrong type';
  }
  const field = path.join('.') || undefined;
  return new CourierError('invalid_request', field ? `${field}: ${message}` : message, field);
}

export function parseOrThrow<T>(
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  value: unknown,
  prefix: string[] = [],
): T {
  const result = schema.safeParse(value);
  if (!result.success) throw fromZodError(result.error, prefix);
  return result.data;
}

/** Exactly one of `to`, `merchant`, `conversation`. */
export function targetOf(req: {
  to?: string | undefined;
  merchant?: string | undefined;
  conversation?: string | undefined;
}): Target {
  const given = (['to', 'merchant', 'conversation'] as const).filter((k) => req[k] !== undefined);
  if (given.length !== 1) {
    throw new CourierError(
      'invalid_request',
      given.length === 0
        ? 'one target is required: to, merchant or conversation'
        : `only one target may be given, not ${given.join(' and ')}`,
      given[1] ?? 'to',
    );
  }
  if (req.to !== undefined) return { kind: 'to', uid: req.to };
  if (req.merchant !== undefined) return { kind: 'merchant', merchant: req.merchant };
  return { kind: 'conversation', id: req.conversation as string };
}

/** Checks the content against its type's shape and the size limit; returns the content to store. */
export function validateContent(type: MessageType, content: Json, maxBytes: number): Json {
  const size = Buffer.byteLength(JSON.stringify(content));
  if (size > maxBytes) {
    throw new CourierError(
      'too_large',
      `content is ${size} bytes, more than the ${maxBytes} allowed`,
      'content',
    );
  }
  return QUICK_CONTENT[type]?.(content) ? content : parseOrThrow(contentByType[type], content, ['content']);
}

// The fast path of contentByType for the two types whose rule is one test (a safeParse of the `custom` refine
// was ~4 % of the send path's allocation); anything they do not accept goes to zod for its error.
const QUICK_CONTENT: Partial<Record<MessageType, (content: Json) => boolean>> = {
  text: (v) => typeof v === 'string' && v.length > 0,
  custom: isCustomContent,
};
