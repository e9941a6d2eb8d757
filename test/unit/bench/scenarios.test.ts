import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { STREAM_CHUNKS } from '../../../bench/context.js';
import { parseDecisionOutput } from '../../../bench/scenarios/decision.js';
import { invalidKeys } from '../../../bench/scenarios/gateway-load.js';
import { SCENARIOS, selectScenarios } from '../../../bench/scenarios/index.js';
import { bucketPercentile, histogramBuckets } from '../../../bench/scenarios/revocation.js';
import { streamIsComplete } from '../../../bench/scenarios/streaming.js';
import { nginxConfig } from '../../../bench/baselines/nginx.js';
import { seedKeys } from '../../../bench/seed.js';
import { hashSecret, isWellFormedSecret, KEY_LENGTH } from '../../../src/keys/secret.js';
import { openDatabase } from '../../../src/storage/database.js';

describe('bench scenario selection', () => {
  it('a scenario brings the rows its ratio refers to, transitively, in run order', () => {
    expect(selectScenarios(['hot-key']).map((s) => s.name)).toEqual(['direct', 'hot-key']);
    expect(selectScenarios(['invalid-keys']).map((s) => s.name)).toEqual([
      'direct',
      'hot-key',
      'invalid-keys',
    ]);
    expect(selectScenarios(['nginx', 'bare-proxy']).map((s) => s.name)).toEqual([
      'direct',
      'bare-proxy',
      'nginx',
    ]);
    expect(selectScenarios(['memory']).map((s) => s.name)).toEqual(['memory']);
  });

  it('no names = every scenario, and revocation runs after the load scenarios (it restarts the admin plane)', () => {
    const names = selectScenarios([]).map((s) => s.name);
    expect(names).toHaveLength(SCENARIOS.length);
    expect(names.indexOf('revocation')).toBeGreaterThan(names.indexOf('cold-misses'));
    expect(names.indexOf('memory')).toBe(names.indexOf('many-keys') + 1);
  });

  it('an unknown name is refused with the list of known ones', () => {
    expect(() => selectScenarios(['hot-keys'])).toThrow(/unknown scenario hot-keys; known: hello, direct/);
  });
});

describe('bench scenario helpers', () => {
  it('invalid keys have the right shape but fail the checksum, so the gateway rejects them before hashing', () => {
    const keys = invalidKeys(200);
    expect(new Set(keys).size).toBe(200);
    for (const key of keys) {
      expect(key).toHaveLength(KEY_LENGTH);
      expect(key.startsWith('kg_')).toBe(true);
      expect(isWellFormedSecret(key)).toBe(false);
    }
  });

  it('a stream counts as complete only with every content chunk and the final [DONE]', () => {
    const chunk = (i: number): string => `data: {"choices":[{"delta":{"content":"tok${i} "}}]}\n\n`;
    const full = Array.from({ length: STREAM_CHUNKS }, (_, i) => chunk(i)).join('') + 'data: [DONE]\n\n';
    expect(streamIsComplete(full)).toBe(true);
    expect(streamIsComplete(full.replace('data: [DONE]\n\n', ''))).toBe(false);
    expect(streamIsComplete(full.replace(chunk(3), ''))).toBe(false);
  });

  it('reads the decision micro-bench figure from a JSON line or from text', () => {
    expect(
      parseDecisionOutput('warming up\n{"usPerDecision": 2.5, "iterations": 100000}\n').usPerDecision,
    ).toBe(2.5);
    expect(parseDecisionOutput('{"nsPerDecision": 1800}').usPerDecision).toBeCloseTo(1.8);
    expect(parseDecisionOutput('decision: 3.2 µs per request').usPerDecision).toBeCloseTo(3.2);
    expect(parseDecisionOutput('nothing useful').usPerDecision).toBeNull();
    const pretty = JSON.stringify(
      {
        decision: 'admit + settle',
        noLimitsNsPerOp: 900,
        allLimitsNsPerOp: 2400,
        allPlusPeriodsParallelShadowNsPerOp: 3100,
      },
      null,
      2,
    );
    expect(parseDecisionOutput(`${pretty}\n`)).toMatchObject({
      usPerDecision: 2.4,
      usNoLimits: 0.9,
      usFullFeatures: 3.1,
    });
  });

  it('apply-lag percentiles come from the histogram difference between two scrapes', () => {
    const scrape = (counts: number[]): string =>
      ['0.005', '0.01', '0.05', '+Inf']
        .map((le, i) => `keygate_gateway_invalidation_lag_seconds_bucket{le="${le}"} ${counts[i]}`)
        .join('\n');
    const before = histogramBuckets(scrape([5, 5, 5, 5]), 'keygate_gateway_invalidation_lag_seconds');
    const after = histogramBuckets(scrape([5, 55, 104, 105]), 'keygate_gateway_invalidation_lag_seconds');
    expect(bucketPercentile(before, after, 50)).toBe(10);
    expect(bucketPercentile(before, after, 99)).toBe(50);
    expect(bucketPercentile(before, before, 50)).toBeNull();
  });

  it('the nginx baseline proxies to the mock over a keep-alive upstream pool with one worker', () => {
    const conf = nginxConfig('/tmp/x', 8080, 9090);
    expect(conf).toContain('listen 127.0.0.1:8080;');
    expect(conf).toContain('server 127.0.0.1:9090; keepalive');
    expect(conf).toContain('worker_processes 1;');
    expect(conf).toContain('proxy_set_header Connection "";');
  });
});

describe('bench seeding', () => {
  it('seeded keys are stored as sha256 of well-formed secrets in the given team, with their limits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-seed-test-'));
    try {
      const dbPath = join(dir, 'k.db');
      const db = openDatabase(dbPath);
      const now = Date.now();
      db.prepare("INSERT INTO orgs (id, name, created_at, updated_at) VALUES ('org_1', 'o', ?, ?)").run(
        now,
        now,
      );
      db.prepare(
        "INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES ('team_1', 'org_1', 't', ?, ?)",
      ).run(now, now);
      db.prepare(
        "INSERT INTO service_accounts (id, team_id, name, created_at) VALUES ('sa_1', 'team_1', 's', ?)",
      ).run(now);
      db.close();
      const keys = seedKeys({
        dbPath,
        teamId: 'team_1',
        serviceAccountId: 'sa_1',
        count: 300,
        namePrefix: 'w',
        limits: { rpm: 7 },
      });
      expect(keys).toHaveLength(300);
      const check = new BetterSqlite3(dbPath, { readonly: true });
      const rows = check
        .prepare('SELECT id, token_hash, rpm_limit, status, team_id FROM keys ORDER BY name')
        .all() as {
        id: string;
        token_hash: string;
        rpm_limit: number;
        status: string;
        team_id: string;
      }[];
      check.close();
      expect(rows).toHaveLength(300);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const key of keys) {
        expect(isWellFormedSecret(key.secret)).toBe(true);
        const stored = byId.get(key.id)!;
        expect(stored.token_hash).toBe(hashSecret(key.secret));
        expect(stored).toMatchObject({ rpm_limit: 7, status: 'active', team_id: 'team_1' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
