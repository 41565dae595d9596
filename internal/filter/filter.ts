import type { Json, MessageType } from '../protocol/message.js';

// The sensitive-word hook of the business tier, applied to every message before it gets a seq.
// SensitiveWordFilter (sensitive-word-filter.ts) is the real one; the pass-through serves tests and tools.

export type FilterOutcome =
  { action: 'pass'; content: Json; filtered: boolean } | { action: 'reject'; words: number };

export interface ContentFilter {
  apply(type: MessageType, content: Json): FilterOutcome;
}

/** `mask`: each hit becomes `*` of its length and the message goes on; `reject`: the message is refused. */
export const FILTER_MODES = ['mask', 'reject'] as const;
export type FilterMode = (typeof FILTER_MODES)[number];

export interface WordList {
  words: string[];
  mode: FilterMode;
}

export class PassThroughFilter implements ContentFilter {
  apply(_type: MessageType, content: Json): FilterOutcome {
    return { action: 'pass', content, filtered: false };
  }
}
