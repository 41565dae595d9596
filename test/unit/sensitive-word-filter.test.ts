// The sensitive-word filter on its own: Aho-Corasick against a naive search, normalisation evasions,
// masking lengths, object content, and the word-list rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AhoCorasick } from '../../internal/filter/aho-corasick.js';
import { fold, foldWord } from '../../internal/filter/normalize.js';
import {
  SensitiveWordFilter,
  parseWordFile,
  wordProblem,
} from '../../internal/filter/sensitive-word-filter.js';

const mask = (words: string[], text: string) => new SensitiveWordFilter({ words, mode: 'mask' }).check(text);

describe('Aho-Corasick matcher', () => {
  /** Folded positions covered by some word, found the slow way. */
  const naive = (words: string[], text: string) => {
    const covered = new Set<number>();
    for (const w of words) {
      if (w === '') continue;
      for (let i = text.indexOf(w); i >= 0; i = text.indexOf(w, i + 1)) {
        for (let j = i; j < i + w.length; j++) covered.add(j);
      }
    }
    return covered;
  };
  const fast = (words: string[], text: string) => {
    const ac = new AhoCorasick(words.map((w) => [...w].map((c) => c.codePointAt(0) as number)));
    const codes = Uint32Array.from([...text].map((c) => c.codePointAt(0) as number));
    const covered = new Set<number>();
    for (const { start, end } of ac.scan(codes, codes.length))
      for (let j = start; j <= end; j++) covered.add(j);
    return covered;
  };

  it('covers exactly what a naive search covers, overlapping and nested words included', () => {
    // A tiny alphabet makes overlaps, shared prefixes and suffix links common.
    const letters = fc.constantFrom('a', 'b', 'c');
    const word = fc.array(letters, { minLength: 1, maxLength: 5 }).map((l) => l.join(''));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), fc.array(letters, { maxLength: 40 }), (words, text) => {
        const t = text.join('');
        assert.deepEqual([...fast(words, t)].sort(), [...naive(words, t)].sort());
      }),
      { numRuns: 500 },
    );
  });

  it('handles code points above the BMP and counts distinct words', () => {
    const ac = new AhoCorasick([foldWord('𠀀x'), foldWord('𠀀x'), foldWord('y')]);
    assert.equal(ac.words, 2);
    const f = fold('a 𠀀x');
    assert.deepEqual(ac.scan(f.codes, f.length), [{ start: 1, end: 2 }]);
    assert.deepEqual(ac.scan(f.codes, f.length, true).length, 1);
  });
});

describe('normalisation', () => {
  it('folds case, full-width forms and compatibility characters', () => {
    assert.deepEqual(foldWord('ＢａＤ'), foldWord('bad'));
    assert.deepEqual(foldWord('ＢＡＤ１'), foldWord('bad1'));
    assert.deepEqual(foldWord('ﬁne'), foldWord('fine'), 'ligature');
    assert.deepEqual(foldWord('Ⓑad'), foldWord('bad'), 'circled letter');
    assert.deepEqual(foldWord('𝐁𝐀𝐃'), foldWord('bad'), 'mathematical bold, above the BMP');
  });

  it('drops spaces, punctuation, symbols, zero-width and combining marks between letters', () => {
    for (const evasion of [
      'b a d',
      'b.a.d',
      'b-a_d',
      'b\u200bad',
      'b\u200d\u2060ad',
      'b̸a̸d̸',
      'b★a♥d',
      'b\u3000a\td',
    ]) {
      assert.deepEqual(foldWord(evasion), foldWord('bad'), JSON.stringify(evasion));
    }
  });

  it('composes a letter typed as base + combining accent (NFC) before folding', () => {
    assert.deepEqual(foldWord('cafe\u0301'), foldWord('café'));
  });

  it('keeps CJK and other letters', () => {
    assert.deepEqual(foldWord('微 信'), foldWord('微信'));
    assert.equal(foldWord('微信').length, 2);
  });
});

describe('masking', () => {
  it('masks each hit with one * per character of its span, separators included', () => {
    assert.deepEqual(mask(['bad'], 'this is bad'), { text: 'this is ***', hits: 1 });
    assert.deepEqual(mask(['bad'], 'B.A.D!'), { text: '*****!', hits: 1 });
    assert.deepEqual(mask(['bad'], 'ＢＡＤ ok'), { text: '*** ok', hits: 1 });
    assert.deepEqual(mask(['bad'], 'b\u200bad'), { text: '****', hits: 1 });
    assert.deepEqual(mask(['bad'], 'b😀ad'), { text: '****', hits: 1 }, 'an emoji is one character');
    assert.deepEqual(mask(['bad'], '𝐁𝐀𝐃!'), { text: '***!', hits: 1 }, 'surrogate pairs, one * each');
    assert.deepEqual(mask(['微信'], '加我微 信吧'), { text: '加我***吧', hits: 1 });
  });

  it('merges overlapping and adjacent hits', () => {
    assert.equal(mask(['abc', 'bcd'], 'xabcdx').text, 'x****x');
    assert.equal(mask(['abcdef', 'cd'], 'abcdef').text, '******');
    assert.equal(mask(['ab', 'cd'], 'abcd').text, '****');
    assert.equal(mask(['bad'], 'badbad').text, '******');
  });

  it('leaves clean text untouched, not even normalised', () => {
    const text = 'Ｈｅｌｌｏ cafe\u0301';
    assert.equal(mask(['bad'], text).text, text);
    assert.equal(mask([], 'bad').hits, 0);
  });
});

describe('message content', () => {
  const filter = new SensitiveWordFilter({ words: ['scam', 'bad'], mode: 'mask' });

  it('masks text content and reports filtered', () => {
    assert.deepEqual(filter.apply('text', 'a S.C.A.M here'), {
      action: 'pass',
      content: 'a ******* here',
      filtered: true,
    });
  });

  it('filters strings inside objects, except references such as URLs and ids', () => {
    const product = {
      productId: 'bad-1',
      title: 'Not a scam',
      price: 5,
      url: 'https://shop.example/bad',
      image: 'https://cdn.example/bad.png',
    };
    const out = filter.apply('product', product);
    assert.equal(out.action, 'pass');
    assert.deepEqual(out.action === 'pass' && out.content, { ...product, title: 'Not a ****' });
    assert.deepEqual(product.title, 'Not a scam', 'the input is not mutated');
    const custom = { note: ['fine', { deep: 'so bad' }], n: 1, url: 'bad' };
    const c = filter.apply('custom', custom);
    assert.deepEqual(c.action === 'pass' && c.content, {
      note: ['fine', { deep: 'so ***' }],
      n: 1,
      url: '***',
    });
  });

  it('hands clean content back as the same object', () => {
    const clean = { title: 'fine', list: ['ok'] };
    const out = filter.apply('custom', clean);
    assert.ok(out.action === 'pass' && out.content === clean && !out.filtered);
  });

  it('rejects in reject mode, also for a hit inside an object', () => {
    const strict = new SensitiveWordFilter({ words: ['scam'], mode: 'reject' });
    assert.deepEqual(strict.apply('text', 'S C A M'), { action: 'reject', words: 1 });
    assert.equal(strict.apply('order', { orderId: 'o', status: 'scam', amount: 1 }).action, 'reject');
    assert.equal(strict.apply('order', { orderId: 'scam', status: 'paid', amount: 1 }).action, 'pass');
  });

  it('swaps the list and the mode at run time', () => {
    const f = new SensitiveWordFilter({ words: ['one'], mode: 'mask' });
    f.replace({ words: ['two'], mode: 'reject' });
    assert.deepEqual(f.list, { words: ['two'], mode: 'reject' });
    assert.equal(f.apply('text', 'one').action, 'pass');
    assert.equal(f.apply('text', 'two').action, 'reject');
  });
});

describe('word lists', () => {
  it('refuses words with nothing to match and overlong words', () => {
    assert.equal(wordProblem('bad'), null);
    assert.equal(wordProblem('微信'), null);
    assert.match(wordProblem('!!!') ?? '', /letter or digit/);
    assert.match(wordProblem(' \u200b ') ?? '', /letter or digit/);
    assert.match(wordProblem('x'.repeat(101)) ?? '', /at most 100/);
  });

  it('reads a word file: one per line, comments and blank lines skipped, duplicates once', () => {
    const text = '# comment\nbad\r\n\n  worse  \nbad\n#not a word\n';
    assert.deepEqual(parseWordFile(text), ['bad', 'worse']);
  });
});
