import type { ClientFrame, OutgoingMessage } from './frames.js';
import { MESSAGE_TYPES, type Json, type MessageType } from './message.js';

// Guards for the client → server frames of DESIGN §4. Every frame comes straight off the network, so the
// parser never throws: it answers with either a typed frame or the error the worker sends back (and the
// connection stays open). Shapes are checked strictly, unknown fields included, so that a client typo
// (`clientMsgID`) is reported instead of silently ignored. The message body is only checked for shape;
// business validates its content with the same rules as the HTTP API.

export type ParseResult =
  { ok: true; frame: ClientFrame } | { ok: false; code: string; message: string; ref?: string };

/** Error code of every frame this parser refuses. */
export const BAD_FRAME = 'bad_frame';

const MAX_ACK_IDS = 1000; // one ack frame per batch of pushes; bounded so one frame cannot pin the worker
const MAX_ID_CHARS = 128; // message ids and clientMsgIds
const MAX_CONVERSATION_CHARS = 256; // a direct conversation id is two uids (≤ 64 each) plus separators
const MAX_TARGET_CHARS = 128; // to / merchant / conversation inside a send
const SYNC_LIMIT_DEFAULT = 50;
const SYNC_LIMIT_MAX = 500;

type Obj = Record<string, unknown>;

/** Thrown inside the parser only, turned into a ParseResult at the top; never escapes. */
class FrameError extends Error {
  constructor(
    message: string,
    readonly ref?: string,
  ) {
    super(message);
  }
}

export function parseClientFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: BAD_FRAME, message: 'frame is not valid JSON' };
  }
  if (!isObject(value)) return { ok: false, code: BAD_FRAME, message: 'frame must be a JSON object' };
  const type = value['type'];
  try {
    return { ok: true, frame: parseFrame(value, type) };
  } catch (err) {
    // Only FrameError can arrive here; anything else is treated as a bad frame too, so the contract
    // "never throws" holds even for a bug in this file.
    if (!(err instanceof FrameError))
      return { ok: false, code: BAD_FRAME, message: 'frame could not be parsed' };
    const ref = err.ref ?? (typeof type === 'string' && isKnownType(type) ? type : undefined);
    return ref === undefined
      ? { ok: false, code: BAD_FRAME, message: err.message }
      : { ok: false, code: BAD_FRAME, message: err.message, ref };
  }
}

const KNOWN_TYPES = ['ack', 'send', 'sync', 'read', 'ping'] as const;

function isKnownType(type: string): type is ClientFrame['type'] {
  return (KNOWN_TYPES as readonly string[]).includes(type);
}

function parseFrame(value: Obj, type: unknown): ClientFrame {
  if (type === undefined) throw new FrameError('type is required');
  if (typeof type !== 'string' || !isKnownType(type)) {
    throw new FrameError(`unknown frame type (expected one of ${KNOWN_TYPES.join(', ')})`);
  }
  switch (type) {
    case 'ack': {
      onlyFields(value, ['type', 'ids']);
      const ids = value['ids'];
      if (!Array.isArray(ids) || ids.length === 0) throw new FrameError('ids must be a non-empty array');
      if (ids.length > MAX_ACK_IDS) throw new FrameError(`ids holds at most ${MAX_ACK_IDS} entries`);
      for (const id of ids) {
        if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_CHARS) {
          throw new FrameError(`ids must be strings of 1 to ${MAX_ID_CHARS} characters`);
        }
      }
      return { type, ids: ids as string[] };
    }
    case 'send': {
      // The clientMsgId is checked first so that every later error can name it as the ref.
      const clientMsgId = string(value, 'clientMsgId', MAX_ID_CHARS);
      onlyFields(value, ['type', 'clientMsgId', 'message'], clientMsgId);
      const message = parseOutgoing(value['message'], clientMsgId);
      return { type, clientMsgId, message };
    }
    case 'sync': {
      onlyFields(value, ['type', 'conversation', 'after', 'limit']);
      const conversation = string(value, 'conversation', MAX_CONVERSATION_CHARS);
      const after = integer(value, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
      const limit = integer(value, 'limit', 1, SYNC_LIMIT_MAX, SYNC_LIMIT_DEFAULT);
      return { type, conversation, after, limit };
    }
    case 'read': {
      onlyFields(value, ['type', 'conversation', 'seq']);
      const conversation = string(value, 'conversation', MAX_CONVERSATION_CHARS);
      const seq = integer(value, 'seq', 0, Number.MAX_SAFE_INTEGER);
      return { type, conversation, seq };
    }
    case 'ping':
      onlyFields(value, ['type']);
      return { type };
  }
}

function parseOutgoing(value: unknown, ref: string): OutgoingMessage {
  if (!isObject(value)) throw new FrameError('message must be an object', ref);
  onlyFields(value, ['to', 'merchant', 'conversation', 'type', 'content'], ref, 'message.');
  const out: OutgoingMessage = { type: messageType(value['type'], ref), content: content(value, ref) };
  // Which target (exactly one) is allowed is business' rule; here each present one must be a string.
  for (const key of ['to', 'merchant', 'conversation'] as const) {
    if (value[key] === undefined) continue;
    out[key] = string(value, key, MAX_TARGET_CHARS, ref, 'message.');
  }
  return out;
}

function messageType(value: unknown, ref: string): MessageType {
  if (typeof value === 'string' && (MESSAGE_TYPES as readonly string[]).includes(value)) {
    return value as MessageType;
  }
  throw new FrameError(`message.type must be one of ${MESSAGE_TYPES.join(', ')}`, ref);
}

function content(value: Obj, ref: string): Json {
  // Whatever JSON.parse produced is a Json value already; null is refused as "no content".
  const c = value['content'];
  if (c === undefined || c === null) throw new FrameError('message.content is required', ref);
  return c as Json;
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyFields(value: Obj, allowed: readonly string[], ref?: string, prefix = ''): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new FrameError(`unknown field ${prefix}${key}`, ref);
  }
}

function string(value: Obj, key: string, max: number, ref?: string, prefix = ''): string {
  const v = value[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new FrameError(`${prefix}${key} must be a string of 1 to ${max} characters`, ref);
  }
  return v;
}

function integer(value: Obj, key: string, min: number, max: number, fallback?: number): number {
  const v = value[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new FrameError(`${key} must be an integer from ${min} to ${max}`);
  }
  return v;
}
