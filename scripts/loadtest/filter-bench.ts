// Messages per second through the sensitive-word filter with a 10,000-word list (docs/BENCHMARKS.md).
// Run: npm run build && node dist/scripts/loadtest/filter-bench.js [--words 10000] [--messages 200000] [--mode mask]
// Prints one line per run and the median of the runs. Deterministic: a seeded generator builds the list
// and the messages, so runs on the same machine compare.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { SensitiveWordFilter } from '../../internal/filter/sensitive-word-filter.js';
import type { FilterMode } from '../../internal/filter/filter.js';
import type { Json, MessageType } from '../../internal/protocol/message.js';

const { values } = parseArgs({
  options: {
    words: { type: 'string', default: '10000' },
    messages: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'mask' },
  },
});
const WORDS = Number(values.words);
const MESSAGES = Number(values.messages);
const RUNS = Number(values.runs);
const MODE: FilterMode = values.mode === 'reject' ? 'reject' : 'mask';

// mulberry32: a tiny seeded PRNG, so every run filters the same data.
let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const LATIN = 'abcdefghijklmnopqrstuvwxyz';
const CJK =
  '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴急';
const LATIN_CHARS = [...LATIN];
const CJK_CHARS = [...CJK];
const latinWord = (min: number, spread: number) =>
  Array.from({ length: min + Math.floor(random() * spread) }, () => pick(LATIN_CHARS)).join('');
const cjkWord = (min: number, spread: number) =>
  Array.from({ length: min + Math.floor(random() * spread) }, () => pick(CJK_CHARS)).join('');

// Listed words are 5–10 letters or 3–4 CJK characters, like real lists (short words match inside too
// much ordinary text once separators are ignored); message text uses shorter words.
function wordList(n: number): string[] {
  const words = new Set<string>();
  while (words.size < n) words.add(random() < 0.7 ? latinWord(5, 6) : cjkWord(3, 2));
  return [...words];
}

/** Evasions a sender might try on a listed word. */
function disguise(word: string): string {
  const chars = [...word];
  switch (Math.floor(random() * 4)) {
    case 0:
      return chars.join(' ');
    case 1:
      return chars.join('\u200b');
    case 2: // full width
      return chars.map((c) => (c < '\u0080' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('');
    default:
      return word.toUpperCase();
  }
}

function messages(words: string[], n: number): { type: MessageType; content: Json }[] {
  const out: { type: MessageType; content: Json }[] = [];
  for (let i = 0; i < n; i++) {
    // About 1 in 10 messages carries a listed word; chat text is mixed Latin and CJK, 20–200 characters.
    const parts: string[] = [];
    const target = 20 + Math.floor(random() * 180);
    while (parts.join(' ').length < target) parts.push(random() < 0.6 ? latinWord(2, 6) : cjkWord(1, 3));
    if (random() < 0.1) parts.splice(Math.floor(random() * parts.length), 0, disguise(pick(words)));
    const text = parts.join(random() < 0.5 ? ' ' : '，');
    if (i % 10 === 9) {
      out.push({
        type: 'product',
        content: {
          productId: `p${i}`,
          title: text.slice(0, 60),
          price: 9.5,
          url: 'https://x',
          image: 'https://y',
        },
      });
    } else {
      out.push({ type: 'text', content: text });
    }
  }
  return out;
}

const list = wordList(WORDS);
const input = messages(list, MESSAGES);
const buildStart = performance.now();
const filter = new SensitiveWordFilter({ words: list, mode: MODE });
const buildMs = performance.now() - buildStart;
const chars = input.reduce((n, m) => n + JSON.stringify(m.content).length, 0);

// Warm-up: let the JIT compile the hot path before measuring.
for (const m of input.slice(0, 20_000)) filter.apply(m.type, m.content);

const rates: number[] = [];
let flagged = 0;
for (let run = 1; run <= RUNS; run++) {
  flagged = 0;
  const start = performance.now();
  for (const m of input) {
    const outcome = filter.apply(m.type, m.content);
    if (outcome.action === 'reject' || outcome.filtered) flagged++;
  }
  const seconds = (performance.now() - start) / 1000;
  rates.push(MESSAGES / seconds);
  console.log(`run ${run}: ${Math.round(MESSAGES / seconds).toLocaleString('en')} messages/s`);
}
const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
console.log(
  JSON.stringify({
    words: WORDS,
    mode: MODE,
    messages: MESSAGES,
    avgChars: Math.round(chars / MESSAGES),
    flagged,
    buildMs: Math.round(buildMs),
    medianMessagesPerSecond: Math.round(median),
    microsPerMessage: Number((1e6 / median).toFixed(2)),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
  }),
);
