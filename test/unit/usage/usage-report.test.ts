import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  usageReportFromWire,
  usageReportJson,
  usageReportToWire,
  type UsageReport,
} from '../../../src/usage/usage-report.js';

const count = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const usageReport: fc.Arbitrary<UsageReport> = fc.record(
  {
    gatewayId: fc.string({ minLength: 1 }),
    batchId: fc.string({ minLength: 1 }),
    batchSeq: count,
    items: fc.array(
      fc.record(
        {
          keyId: fc.string({ minLength: 1 }),
          target: fc.string({ minLength: 1 }),
          requests: count,
          inputTokens: count,
          outputTokens: count,
          spendMicros: count,
          lastUsedAt: count,
        },
        { noNullPrototype: true },
      ),
      { maxLength: 5 },
    ),
  },
  { noNullPrototype: true },
);

const report: UsageReport = {
  gatewayId: 'gw-1',
  batchId: 'batch-1',
  batchSeq: 7,
  items: [
    {
      keyId: 'key_a',
      target: 'gpt-4o-mini',
      requests: 2,
      inputTokens: 100,
      outputTokens: 50,
      spendMicros: 1_250,
      lastUsedAt: 1_780_000_000_000,
    },
  ],
};

describe('usage report wire format', () => {
  it('the wire body is snake_case throughout, exactly the API.md field names', () => {
    expect(usageReportToWire(report)).toStrictEqual({
      gateway_id: 'gw-1',
      batch_id: 'batch-1',
      batch_seq: 7,
      items: [
        {
          key_id: 'key_a',
          target: 'gpt-4o-mini',
          requests: 2,
          input_tokens: 100,
          output_tokens: 50,
          spend_micros: 1_250,
          last_used_at: 1_780_000_000_000,
        },
      ],
    });
  });

  it('a report survives JSON serialization to the wire and back unchanged', () => {
    fc.assert(
      fc.property(usageReport, (original) => {
        const wire = JSON.parse(JSON.stringify(usageReportToWire(original)));
        expect(usageReportFromWire(wire)).toStrictEqual(original);
      }),
    );
  });

  it('no camelCase key leaks onto the wire', () => {
    fc.assert(
      fc.property(usageReport, (original) => {
        const json = JSON.stringify(usageReportToWire(original), (key, value: unknown) => {
          expect(key).not.toMatch(/[A-Z]/);
          return value;
        });
        expect(json.length).toBeGreaterThan(0);
      }),
    );
  });

  it('usageReportJson writes exactly what JSON.stringify of the wire report writes', () => {
    fc.assert(
      fc.property(usageReport, (original) => {
        expect(usageReportJson(original)).toBe(JSON.stringify(usageReportToWire(original)));
      }),
    );
    const odd: UsageReport = {
      gatewayId: 'gw_"\\\u0000é',
      batchId: 'b\n1',
      batchSeq: 2 ** 53 - 1,
      items: [
        {
          keyId: 'k"1',
          target: 't\u2028',
          requests: 1e21,
          inputTokens: 0.5,
          outputTokens: -0,
          spendMicros: NaN,
          lastUsedAt: Infinity,
        },
        {
          keyId: 'k2',
          target: 't',
          requests: 1,
          inputTokens: 2,
          outputTokens: 3,
          spendMicros: 4,
          lastUsedAt: 5,
          tags: ['a"b', 'c'],
        },
      ],
    };
    expect(usageReportJson(odd)).toBe(JSON.stringify(usageReportToWire(odd)));
    expect(usageReportJson({ ...odd, items: [] })).toBe(
      JSON.stringify(usageReportToWire({ ...odd, items: [] })),
    );
  });
});
