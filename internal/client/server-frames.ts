import type { ServerFrame } from '../protocol/frames.js';
import { MESSAGE_TYPES, type Message } from '../protocol/message.js';

// Guard for the server → client frames of DESIGN §4. A frame comes off the network, so it is checked before
// the client trusts its fields; anything malformed is reported as null instead of throwing deep inside the
// ordering logic. Unknown fields are tolerated (a newer server may add some).

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function parseMessage(v: unknown): Message | null {
  if (!isObj(v)) return null;
  const { id, conversation, seq, from, to, type, content, ts } = v;
  if (!isStr(id) || !isStr(conversation) || !isSeq(seq) || !isStr(from)) return null;
  if (!Array.isArray(to) || !to.every(isStr)) return null;
  if (!isStr(type) || !(MESSAGE_TYPES as readonly string[]).includes(type)) return null;
  if (content === undefined || typeof ts !== 'number') return null;
  return v as unknown as Message;
}

export function parseServerFrame(text: string): ServerFrame | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null; // reported by the caller as a protocol error
  }
  if (!isObj(v) || !isStr(v.type)) return null;
  switch (v.type) {
    case 'welcome':
      return isStr(v.connId) && isStr(v.uid) && typeof v.heartbeat === 'number' && isStr(v.worker)
        ? (v as ServerFrame)
        : null;
    case 'message':
      return parseMessage(v.message) ? (v as ServerFrame) : null;
    case 'sent':
      return isStr(v.clientMsgId) && parseMessage(v.message) ? (v as ServerFrame) : null;
    case 'sync':
      return isStr(v.conversation) &&
        typeof v.hasMore === 'boolean' &&
        Array.isArray(v.messages) &&
        v.messages.every((m) => parseMessage(m) !== null)
        ? (v as ServerFrame)
        : null;
    case 'read':
      return isStr(v.conversation) && isStr(v.uid) && isSeq(v.seq) ? (v as ServerFrame) : null;
    case 'pong':
      return { type: 'pong' };
    case 'error':
      return isStr(v.code) && isStr(v.message) && (v.ref === undefined || isStr(v.ref))
        ? (v as ServerFrame)
        : null;
    default:
      return null;
  }
}
