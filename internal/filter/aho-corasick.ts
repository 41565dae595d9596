// Aho-Corasick over folded code points: one pass over a message finds every listed word in it, whatever
// the size of the list (the cost is the text's length plus the hits, not the number of words).

/** A hit as inclusive positions in the folded text. */
export interface Hit {
  start: number;
  end: number;
}

export class AhoCorasick {
  // State 0 is the root. Most trie states have one child, so children live in a Map only when there are
  // several; `only*` holds the single child without allocating a Map per state.
  private readonly onlyCode: Int32Array;
  private readonly onlyNext: Int32Array;
  private readonly many: (Map<number, number> | undefined)[];
  private readonly fail: Int32Array;
  /** Length of the longest word that ends in this state, through its fail chain; 0 when none. */
  private readonly longest: Int32Array;
  // Root transitions are the hottest lookups (every position that starts no word, after every fail
  // chain), so the Basic Multilingual Plane gets a dense table (256 KiB); 0 = no child.
  private readonly rootBmp = new Int32Array(0x10000);
  readonly words: number;

  constructor(words: readonly (readonly number[])[]) {
    const children: Map<number, number>[] = [new Map()];
    const depthWordEnd: number[] = [0];
    let count = 0;
    for (const word of words) {
      if (word.length === 0) continue;
      let state = 0;
      for (const code of word) {
        const node = children[state] as Map<number, number>;
        let next = node.get(code);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          depthWordEnd.push(0);
          node.set(code, next);
        }
        state = next;
      }
      if (depthWordEnd[state] === 0) count++;
      depthWordEnd[state] = word.length;
    }
    this.words = count;

    const size = children.length;
    this.onlyCode = new Int32Array(size).fill(-1);
    this.onlyNext = new Int32Array(size);
    this.many = new Array<Map<number, number> | undefined>(size);
    this.fail = new Int32Array(size);
    this.longest = new Int32Array(depthWordEnd);
    for (let s = 0; s < size; s++) {
      const node = children[s] as Map<number, number>;
      if (node.size === 1) {
        const [[code, next]] = node as unknown as [[number, number]];
        this.onlyCode[s] = code;
        this.onlyNext[s] = next;
      } else if (node.size > 1) {
        this.many[s] = node;
      }
    }
    for (const [code, next] of children[0] as Map<number, number>)
      if (code < 0x10000) this.rootBmp[code] = next;

    // Breadth-first, so a state's fail target (a shorter suffix) is complete before the state itself.
    const queue: number[] = [];
    for (const next of (children[0] as Map<number, number>).values()) queue.push(next);
    for (let head = 0; head < queue.length; head++) {
      const s = queue[head] as number;
      for (const [code, next] of children[s] as Map<number, number>) {
        let f = this.fail[s] as number;
        let target = this.step(f, code);
        while (target < 0 && f !== 0) {
          f = this.fail[f] as number;
          target = this.step(f, code);
        }
        this.fail[next] = target < 0 || target === next ? 0 : target;
        const inherited = this.longest[this.fail[next] as number] as number;
        if (inherited > (this.longest[next] as number)) this.longest[next] = inherited;
        queue.push(next);
      }
    }
  }

  /** The child of `state` on `code`, or -1. */
  private step(state: number, code: number): number {
    if (state === 0 && code < 0x10000) return this.rootBmp[code] || -1;
    if (this.onlyCode[state] === code) return this.onlyNext[state] as number;
    return this.many[state]?.get(code) ?? -1;
  }

  /**
   * Every stretch of the text covered by a listed word, in the order of their ends (overlapping words give
   * overlapping hits). With `first`, stops at the first hit (reject mode needs no more).
   */
  scan(codes: Uint32Array, length: number, first = false): Hit[] {
    const hits: Hit[] = [];
    let state = 0;
    for (let i = 0; i < length; i++) {
      const code = codes[i] as number;
      let next = this.step(state, code);
      while (next < 0 && state !== 0) {
        state = this.fail[state] as number;
        next = this.step(state, code);
      }
      state = next < 0 ? 0 : next;
      const len = this.longest[state] as number;
      if (len > 0) {
        // The longest word ending here covers every shorter one that ends here too.
        hits.push({ start: i - len + 1, end: i });
        if (first) return hits;
      }
    }
    return hits;
  }
}
