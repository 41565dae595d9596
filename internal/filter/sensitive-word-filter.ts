import type { Json, MessageType } from '../protocol/message.js';
import { AhoCorasick } from './aho-corasick.js';
import type { ContentFilter, FilterOutcome, WordList } from './filter.js';
import { fold, foldWord } from './normalize.js';

// Fields that hold references, not prose: masking would break a link or an id, and they are validated
// by shape (validate.ts) anyway. Every other string of the content is filtered, nested ones included.
const REFERENCES: Partial<Record<MessageType, ReadonlySet<string>>> = {
  image: new Set(['url', 'thumbnail']),
  product: new Set(['productId', 'url', 'image', 'currency']),
  order: new Set(['orderId', 'currency']),
};

interface Matcher {
  automaton: AhoCorasick;
  list: WordList;
}

/** The Aho-Corasick sensitive-word filter; `replace` swaps the list at run time (one assignment, no pause). */
export class SensitiveWordFilter implements ContentFilter {
  private current: Matcher;

  constructor(list: WordList) {
    this.current = build(list);
  }

  get list(): WordList {
    return this.current.list;
  }

  replace(list: WordList): void {
    this.current = build(list);
  }

  apply(type: MessageType, content: Json): FilterOutcome {
    const { automaton, list } = this.current;
    if (automaton.words === 0) return { action: 'pass', content, filtered: false };
    const state = { hits: 0, reject: list.mode === 'reject' };
    const skip = REFERENCES[type];
    const out =
      typeof content === 'string'
        ? filterString(automaton, content, state)
        : walk(automaton, content, state, skip);
    if (state.hits === 0) return { action: 'pass', content, filtered: false };
    if (state.reject) return { action: 'reject', words: state.hits };
    return { action: 'pass', content: out, filtered: true };
  }

  /** One string through the current list: the masked text and the number of hits. */
  check(text: string): { text: string; hits: number } {
    const state = { hits: 0, reject: false };
    return { text: filterString(this.current.automaton, text, state), hits: state.hits };
  }
}

function build(list: WordList): Matcher {
  return { automaton: new AhoCorasick(list.words.map(foldWord)), list };
}

interface WalkState {
  hits: number;
  /** In reject mode the first hit decides, so nothing is masked and the walk stops early. */
  reject: boolean;
}

/** Returns the same object when nothing inside it changed, so clean content is never copied. */
function walk(ac: AhoCorasick, value: Json, state: WalkState, skip?: ReadonlySet<string>): Json {
  if (typeof value === 'string') return filterString(ac, value, state);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: Json[] | undefined;
    for (let i = 0; i < value.length && !(state.reject && state.hits > 0); i++) {
      const item = value[i] as Json;
      const out = walk(ac, item, state);
      if (out !== item) (copy ??= [...value])[i] = out;
    }
    return copy ?? value;
  }
  let copy: { [key: string]: Json } | undefined;
  for (const [key, item] of Object.entries(value)) {
    if (state.reject && state.hits > 0) break;
    if (skip?.has(key)) continue; // only top-level keys name references
    const out = walk(ac, item, state);
    if (out !== item) (copy ??= { ...value })[key] = out;
  }
  return copy ?? value;
}

function filterString(ac: AhoCorasick, text: string, state: WalkState): string {
  if (text.length === 0) return text;
  const folded = fold(text);
  const hits = ac.scan(folded.codes, folded.length, state.reject);
  if (hits.length === 0) return text;
  state.hits += hits.length;
  if (state.reject) return text;
  // A hit spans the code points its first and last folded characters came from, separators slipped in
  // between included: "b.a.d" becomes "*****". Hits arrive ordered by end, so overlaps merge in one pass.
  const spans: [number, number][] = [];
  for (const { start, end } of hits) {
    const from = folded.source[start] as number;
    const last = folded.source[end] as number;
    const to = last + ((folded.text.codePointAt(last) as number) > 0xffff ? 2 : 1); // exclusive, UTF-16
    const open = spans.length > 0 ? spans[spans.length - 1] : undefined;
    if (open && from <= open[1]) {
      open[0] = Math.min(open[0], from);
      open[1] = Math.max(open[1], to);
      // A longer word ending later may start before earlier spans: fold those in too.
      while (spans.length > 1 && (spans[spans.length - 2] as [number, number])[1] >= open[0]) {
        const prev = spans.splice(spans.length - 2, 1)[0] as [number, number];
        open[0] = Math.min(open[0], prev[0]);
      }
    } else {
      spans.push([from, to]);
    }
  }
  let out = '';
  let at = 0;
  for (const [from, to] of spans.sort((a, b) => a[0] - b[0])) {
    out += folded.text.slice(at, from) + '*'.repeat(codePoints(folded.text, from, to));
    at = to;
  }
  return out + folded.text.slice(at);
}

function codePoints(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    n++;
    const cu = text.charCodeAt(i);
    if (cu >= 0xd800 && cu <= 0xdbff && i + 1 < to) i++;
  }
  return n;
}

/** Longest listed word, in UTF-16 units: longer "words" are sentences, better caught by moderation. */
export const MAX_WORD_LENGTH = 100;

/** Why `word` cannot be listed, or null when it can. */
export function wordProblem(word: string): string | null {
  if (word.length > MAX_WORD_LENGTH) return `must be at most ${MAX_WORD_LENGTH} characters`;
  if (foldWord(word).length === 0) return 'must contain a letter or digit';
  return null;
}

/** Reads a word file: one word per line; blank lines and lines starting with `#` are skipped. */
export function parseWordFile(text: string): string[] {
  const words = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const word = line.trim();
    if (word !== '' && !word.startsWith('#')) words.add(word);
  }
  return [...words];
}
