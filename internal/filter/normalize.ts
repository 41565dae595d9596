// Text normalisation shared by the word list and the messages it is matched against, so that the usual
// evasions reach the same code points as the listed word: case (BaD), full-width and other compatibility
// forms (ＢＡＤ, ｂａｄ — NFKC), and characters slipped between the letters (b a d, b.a.d, b\u200Bad, b̸a̸d).
//
// Limit: dropping separators means matching ignores word boundaries ("as sorted" holds "ass"), which is
// the usual trade-off of substring filters for languages written without spaces. Homoglyphs from other
// scripts (Cyrillic а for Latin a) are not folded.

/** Dropped wherever they appear: punctuation, spaces, symbols, controls, format (zero-width) and marks. */
const SEPARATOR = /[\p{P}\p{Z}\p{S}\p{Cc}\p{Cf}\p{Mn}\p{Me}]/u;
/** Below U+0300 nothing composes under NFC, so text without these needs no NFC pass. */
const MAY_COMPOSE = /[\u0300-\uffff]/;

// Non-ASCII code point → its normalised code points (empty for a separator). The alphabet of real text is
// small, so this stays small; the cap only guards against a flood of distinct code points.
const cache = new Map<number, readonly number[]>();
const CACHE_LIMIT = 100_000;
const NONE: readonly number[] = [];
// The same answer for the Basic Multilingual Plane as a flat table, the hot path for CJK text:
// 0 = not computed yet, DROP = separator, MANY = folds to several code points (ask the cache), else the code.
const bmp = new Int32Array(0x10000);
const DROP = -1;
const MANY = -2;

function foldSlow(cp: number): readonly number[] {
  const known = cache.get(cp);
  if (known) return known;
  const out: number[] = [];
  for (const ch of String.fromCodePoint(cp).normalize('NFKC').toLowerCase()) {
    if (!SEPARATOR.test(ch)) out.push(ch.codePointAt(0) as number);
  }
  const folded = out.length === 0 ? NONE : out;
  if (cache.size < CACHE_LIMIT) cache.set(cp, folded);
  return folded;
}

/** A normalised text: `codes[i]` came from the code point at UTF-16 offset `source[i]` of `text`. */
export interface Folded {
  /** The text that was folded (the input after NFC), which masking rewrites. */
  text: string;
  codes: Uint32Array;
  source: Uint32Array;
  length: number;
}

// Reused between calls: folding runs synchronously, one text at a time.
let codesBuf = new Uint32Array(1024);
let sourceBuf = new Uint32Array(1024);

/**
 * Folds `text` for matching. NFC first, so that a letter typed as base + combining accent is the same
 * code point as the precomposed letter in the list; then each code point on its own (NFKC, lower case,
 * separators dropped), which keeps a map back to the text for masking. The arrays returned are only
 * valid until the next call.
 */
export function fold(input: string): Folded {
  const text = MAY_COMPOSE.test(input) ? input.normalize('NFC') : input;
  // NFKC expands one code point to at most 18 (U+FDFA); grow once up front instead of checking per push.
  const need = text.length * 18;
  if (codesBuf.length < need) {
    codesBuf = new Uint32Array(need);
    sourceBuf = new Uint32Array(need);
  }
  const codes = codesBuf;
  const source = sourceBuf;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const cu = text.charCodeAt(i);
    if (cu < 0x80) {
      // ASCII fast path: letters and digits are kept (lower-cased), everything else is a separator.
      if ((cu >= 0x61 && cu <= 0x7a) || (cu >= 0x30 && cu <= 0x39)) {
        codes[n] = cu;
        source[n++] = i;
      } else if (cu >= 0x41 && cu <= 0x5a) {
        codes[n] = cu + 0x20;
        source[n++] = i;
      }
      continue;
    }
    if (cu < 0xd800 || cu > 0xdfff) {
      let single = bmp[cu] as number;
      if (single === 0) {
        const folded = foldSlow(cu);
        single = folded.length === 0 ? DROP : folded.length === 1 ? (folded[0] as number) : MANY;
        bmp[cu] = single;
      }
      if (single > 0) {
        codes[n] = single;
        source[n++] = i;
        continue;
      }
      if (single === DROP) continue;
    }
    const cp = text.codePointAt(i) as number;
    for (const code of foldSlow(cp)) {
      codes[n] = code;
      source[n++] = i;
    }
    if (cp > 0xffff) i++; // the low surrogate of this pair
  }
  return { text, codes, source, length: n };
}

/** A word of the list, folded like messages are; empty when it holds nothing but separators. */
export function foldWord(word: string): number[] {
  const f = fold(word);
  return Array.from(f.codes.subarray(0, f.length));
}
