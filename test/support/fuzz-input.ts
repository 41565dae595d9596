// A seeded generator of hostile input for the fuzz test: valid request bodies and frames, then mutated
// (wrong types, huge numbers, deep nesting, odd unicode, nulls, extra fields, missing fields) and sometimes
// damaged as text (truncated, a byte flipped or inserted, invalid UTF-8). The same seed gives the same
// sequence, so a failure replays with COURIER_FUZZ_SEED.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** sfc32: small, fast, and good enough to drive a fuzzer; 32-bit state words from the seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4_294_967_296;
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

const STRINGS = [
  '',
  ' ',
  'a',
  'null',
  '0',
  '-1',
  '../../etc/passwd',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '\u0000',
  '\ud800', // a lone surrogate
  '\u202e\u0645\u0631\u062d\u0628\u0627', // right-to-left override and Arabic
  'e\u0301\u0301\u0301', // combining marks
  '👩‍👩‍👧‍👦🇺🇳',
  '{"type":"ping"}',
  '%E0%A4%A',
  'constructor',
  '__proto__',
];

const NUMBERS = [0, -1, 1, 1.5, -0.0001, 2 ** 31, 2 ** 53 + 2, 1e21, 1e308, -1e308, 5e-324];

export function randomString(rng: Rng): string {
  switch (rng.int(4)) {
    case 0:
      return rng.pick(STRINGS);
    case 1:
      return 'x'.repeat(rng.pick([64, 65, 129, 200, 2_000, 20_000]));
    case 2:
      return Array.from({ length: 1 + rng.int(12) }, () => String.fromCharCode(rng.int(0x3000))).join('');
    default:
      return `fz${rng.int(1_000)}`;
  }
}

/** A value of any JSON type, now and then nested too deep to be accepted. */
export function randomValue(rng: Rng, depth = 0): Json {
  switch (rng.int(depth > 2 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(NUMBERS);
    case 3:
    case 4:
      return randomString(rng);
    case 5:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    case 6:
      return Object.fromEntries(
        Array.from({ length: rng.int(4) }, () => [randomString(rng), randomValue(rng, depth + 1)]),
      );
    default: {
      let deep: Json = 1;
      for (let i = 0; i < 20 + rng.int(120); i++) deep = rng.chance(0.5) ? [deep] : { d: deep };
      return deep;
    }
  }
}

/** Applies one to three structural mutations somewhere in the value (which is copied, never changed). */
export function mutate(rng: Rng, value: Json): Json {
  let out = structuredClone(value);
  const times = 1 + rng.int(3);
  for (let i = 0; i < times; i++) out = mutateOnce(rng, out);
  return out;
}

function mutateOnce(rng: Rng, value: Json): Json {
  if (value === null || typeof value !== 'object' || rng.chance(0.15)) return randomValue(rng);
  const keys = Array.isArray(value) ? value.map((_, i) => String(i)) : Object.keys(value);
  const record = value as Record<string, Json>;
  const op = rng.int(5);
  if (op === 0 || keys.length === 0) {
    // An extra field (or element) that nobody asked for.
    if (Array.isArray(value)) value.push(randomValue(rng));
    else {
      const key = rng.chance(0.3) ? rng.pick(['__proto__', 'constructor', 'extra']) : randomString(rng);
      // defineProperty: assigning `__proto__` would set the prototype instead of adding a key.
      Object.defineProperty(record, key, {
        value: randomValue(rng),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return value;
  }
  const key = rng.pick(keys);
  if (op === 1 && !Array.isArray(value)) {
    delete record[key];
  } else if (op === 2) {
    record[key] = mutateOnce(rng, record[key] ?? null); // go deeper
  } else {
    record[key] = randomValue(rng);
  }
  return value;
}

/** JSON text of the value, now and then damaged as text: truncated, a byte changed, or invalid UTF-8. */
export function damage(rng: Rng, text: string, allowInvalidUtf8: boolean): string | Buffer {
  if (!rng.chance(0.25)) return text;
  switch (rng.int(allowInvalidUtf8 ? 5 : 4)) {
    case 0:
      return text.slice(0, rng.int(text.length));
    case 1: {
      const at = rng.int(text.length);
      return text.slice(0, at) + rng.pick(['"', '{', ']', ',', ':', '\\', '1e999', '-']) + text.slice(at);
    }
    case 2:
      return text.replace(/\d+/, rng.pick(['1e999', '-1', '99999999999999999999', '1.5']));
    case 3:
      return rng.chance(0.5) ? `${text}${text}` : ` \n${text}\t`;
    default: {
      const bytes = Buffer.from(text);
      const at = rng.int(bytes.length);
      return Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from([rng.pick([0xff, 0xc3, 0xed, 0x80])]),
        bytes.subarray(at),
      ]);
    }
  }
}

/** A well-formed message body for the given sender and receiver, of a random type. */
export function validMessage(rng: Rng, to: string): { type: string; content: Json } {
  switch (rng.int(5)) {
    case 0:
      return { type: 'text', content: `hello ${rng.int(1e6)}` };
    case 1:
      return {
        type: 'image',
        content: { url: 'https://img.example/a.png', width: 1 + rng.int(999), height: 10 },
      };
    case 2:
      return {
        type: 'product',
        content: {
          productId: `p${rng.int(99)}`,
          title: 'Tea',
          price: 9.5,
          url: 'https://s.example/p',
          image: 'https://s.example/i',
        },
      };
    case 3:
      return {
        type: 'order',
        content: { orderId: `o${rng.int(99)}`, status: 'paid', amount: '12.50', currency: 'EUR' },
      };
    default:
      return { type: 'custom', content: { kind: 'card', to, n: rng.int(100) } };
  }
}
