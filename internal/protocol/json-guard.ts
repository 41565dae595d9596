// Checks on raw JSON text from the network, before it is parsed, for what JSON.parse accepts but courier
// must refuse: nesting so deep that validating or serialising it again overflows the stack (an HTTP 500, or
// a worker's uplink batch refused for every client in it), and numbers too large for a double, which
// JSON.parse turns into Infinity and JSON.stringify later into null, and `__proto__` keys, which validation
// that copies objects turns into a prototype and drops: either way the stored message would differ from the
// one sent. One linear pass over the bytes; structure characters are ASCII, so UTF-8 needs no decoding.

/** Levels of objects and arrays allowed in a body or frame; message content gets all but a few of them. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

function isNumberByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45;
}

/** Null when the text passes; otherwise what is wrong with it, for the error message. */
export function jsonProblem(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): string | null {
  let depth = 0;
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i] as number;
    if (b === QUOTE) {
      // Skip the string, escapes included; an unterminated one is left for JSON.parse to refuse.
      const start = i;
      let escaped = false;
      i++;
      while (i < n && bytes[i] !== QUOTE) {
        if (bytes[i] === BACKSLASH) escaped = true;
        i += bytes[i] === BACKSLASH ? 2 : 1;
      }
      i++;
      if (
        mayBeProto(bytes, start, i, escaped) &&
        isKey(bytes, i) &&
        keyText(bytes, start, i, escaped) === '__proto__'
      ) {
        return 'has a key named __proto__';
      }
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > maxDepth) return `is nested deeper than ${maxDepth} levels`;
      i++;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
      i++;
    } else if (isNumberByte(b)) {
      const start = i;
      let exponent = false;
      while (i < n && isNumberByte(bytes[i] as number)) {
        if (bytes[i] === 0x65 || bytes[i] === 0x45) exponent = true;
        i++;
      }
      // Only an exponent or 309+ digits can overflow a double; shorter tokens skip the parse.
      if (exponent || i - start > 308) {
        const value = Number(Buffer.from(bytes.subarray(start, i)).toString('latin1'));
        if (value === Infinity || value === -Infinity) return 'holds a number too large to represent';
      }
    } else {
      i++;
    }
  }
  return null;
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const COLON = 0x3a;

const PROTO = Buffer.from('"__proto__"');

/**
 * Cheap pre-check of the string token bytes[start..end): without escapes only the exact 11 bytes can spell
 * `"__proto__"`, so no other key costs a string (every key of every body passes here; decoding each showed
 * in profiles of the send path as time and garbage).
 */
function mayBeProto(bytes: Uint8Array, start: number, end: number, escaped: boolean): boolean {
  if (escaped) return true;
  if (end - start !== PROTO.length) return false;
  for (let k = 0; k < PROTO.length; k++) if (bytes[start + k] !== PROTO[k]) return false;
  return true;
}

/** Whether the string that ended just before `at` is an object key (a colon follows). */
function isKey(bytes: Uint8Array, at: number): boolean {
  let i = at;
  while (i < bytes.length && WHITESPACE.has(bytes[i] as number)) i++;
  return bytes[i] === COLON;
}

/** The text of the string token bytes[start..end) (quotes included); escapes are decoded only when present. */
function keyText(bytes: Uint8Array, start: number, end: number, escaped: boolean): string {
  const raw = Buffer.from(bytes.subarray(start, end)).toString('utf8');
  if (!escaped) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    return ''; // not a valid string: JSON.parse of the whole text refuses it
  }
}
