/** The body check before JSON.parse: depth, duplicate keys, escapes, and no false alarms. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, parseRequestBody } from '../../../gateway/proxy/request-body.js';

const check = (text: string) => parseRequestBody(Buffer.from(text));

describe('parseRequestBody', () => {
  it('refuses duplicate keys, also when escaped, and names the key', () => {
    expect(check('{"model":"a","model":"b"}')).toMatchObject({ ok: false, param: 'model' });
    expect(check('{"model":"a","m\\u006fdel":"b"}')).toMatchObject({ ok: false, param: 'model' });
    expect(check('{"a":"x\\"y","a":1}')).toMatchObject({ ok: false, param: 'a' });
    expect(check('{"o":{"k":1,"k":2}}')).toMatchObject({ ok: false, param: 'k' });
  });

  it('a quote after an escaped backslash ends the string; string contents are never keys', () => {
    expect(check('{"a":"\\\\","b":1}')).toMatchObject({ ok: true, json: { a: '\\', b: 1 } });
    expect(check('{"a":"\\"b\\":1,\\"b\\":2","b":3}')).toMatchObject({ ok: true });
    expect(check('{"list":["k","k"],"k":1}')).toMatchObject({ ok: true });
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels before parsing`, () => {
    const nested = (depth: number) => `{"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    expect(check(nested(MAX_JSON_DEPTH)).ok).toBe(true);
    expect(check(nested(MAX_JSON_DEPTH + 1))).toMatchObject({ ok: false, param: null });
    expect(check(nested(100_000))).toMatchObject({ ok: false });
  });

  it('refuses what is not a JSON object', () => {
    for (const text of ['', 'nul', '[1]', '"s"', '{"a":', '{"a":"unterminated}'])
      expect(check(text).ok).toBe(false);
  });

  it('accepts every object JSON.stringify writes (no false alarm), with the same value', () => {
    // The counted fields have their own type check (below).
    const counted = ['stream', 'n', 'best_of', 'max_tokens', 'max_completion_tokens', 'max_output_tokens'];
    const name = fc.string().filter((key) => !counted.includes(key));
    fc.assert(
      fc.property(fc.dictionary(name, fc.jsonValue({ maxDepth: 8 })), (value) => {
        const result = check(JSON.stringify(value));
        expect(result).toEqual({ ok: true, json: JSON.parse(JSON.stringify(value)) });
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a counted field of the wrong JSON type, naming it; null and absent pass', () => {
    for (const [field, value] of [
      ['stream', '"true"'],
      ['stream', '1'],
      ['n', '"8"'],
      ['best_of', 'true'],
      ['max_tokens', '"9000"'],
      ['max_completion_tokens', '[4000]'],
      ['max_output_tokens', '{"value":1}'],
    ]) {
      const result = check(`{"model":"m","${field}":${value}}`);
      expect(result).toMatchObject({ ok: false, param: field });
    }
    expect(check('{"model":"m","stream":true,"n":2,"max_tokens":null,"best_of":null}').ok).toBe(true);
  });
});
