import type { Json, MessageType } from '../protocol/message.js';

// The sensitive-word hook of the business tier. Applied to every message before it gets a seq; the
// Aho-Corasick implementation (issue 4) replaces the pass-through below.

export type FilterOutcome =
  { action: 'pass'; content: Json; filtered: boolean } | { action: 'reject'; words: number };

export interface ContentFilter {
  apply(type: MessageType, content: Json): FilterOutcome;
}

export class PassThroughFilter implements ContentFilter {
  apply(_type: MessageType, content: Json): FilterOutcome {
    return { action: 'pass', content, filtered: false };
  }
}
