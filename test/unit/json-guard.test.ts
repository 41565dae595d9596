import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonProblem, MAX_JSON_DEPTH } from '../../internal/protocol/json-guard.js';

const check = (text: string) => jsonProblem(Buffer.from(text, 'utf8'));

describe('jsonProblem', () => {
  it('passes ordinary bodies, keys that only look like __proto__, and the word as a value', () => {
    assert.equal(check('{"to":"bob","content":{"text":"héllo 👋","n":[1,2.5e3,-3]}}'), null);
    assert.equal(check('{"__proto__x":1,"_proto__":2,"__proto_":3}'), null);
    assert.equal(check('{"text":"__proto__"}'), null);
    assert.equal(check('["__proto__", "__proto__"]'), null);
  });

  it('refuses a __proto__ key, written plainly, with spaces before the colon, or with escapes', () => {
    assert.match(check('{"a":{"__proto__":{"x":1}}}') ?? '', /__proto__/);
    assert.match(check('{"__proto__" \n : 1}') ?? '', /__proto__/);
    assert.match(check('{"\\u005f_proto__":1}') ?? '', /__proto__/);
    assert.match(check('{"__pro\\u0074o__":1}') ?? '', /__proto__/);
  });

  it('refuses nesting past the limit and numbers too large for a double', () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    assert.equal(check(deep(MAX_JSON_DEPTH)), null);
    assert.match(check(deep(MAX_JSON_DEPTH + 1)) ?? '', /deeper/);
    assert.match(check('{"n":1e400}') ?? '', /too large/);
    assert.match(check(`{"n":${'9'.repeat(400)}}`) ?? '', /too large/);
    assert.equal(check('{"n":1e300}'), null);
  });
});
