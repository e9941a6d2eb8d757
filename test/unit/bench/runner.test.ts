import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../../bench/args.js';
import { startHello } from '../../../bench/baselines/hello.js';
import { expectAnswer } from '../../../bench/load.js';
import { findRoot, planFor, runScenarios } from '../../../bench/run.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('bench runner (real processes, tiny durations)', () => {
  it('runs a baseline and its reference against real child processes, measures, and stops them all', async () => {
    const root = findRoot();
    const options = {
      ...parseArgs(['--scenario', 'bare-proxy', '--duration', '0.5', '--warmup', '0', '--connections', '4']),
    };
    const run = await runScenarios(options, {
      toolsRoot: root,
      systemRoot: root,
      runtime: 'tsx',
      log: () => undefined,
    });
    expect(run.failed).toEqual([]);
    expect(run.measurements.map((m) => m.id)).toEqual(['baseline-direct', 'baseline-bare-proxy']);
    for (const m of run.measurements) {
      expect(m.requests).toBeGreaterThan(0);
      expect(m.rps).toBeGreaterThan(0);
      expect(m.errors).toBe(0);
      expect(m.p50Ms).not.toBeNull();
    }
    expect(run.measurements[1]!.reference).toBe('baseline-direct');
    expect(run.pids.length).toBe(2);
    for (const pid of run.pids) expect(alive(pid)).toBe(false);
  });

  it('seeds only what the selected scenarios need', () => {
    const options = parseArgs([]);
    expect(planFor(['hot-key'], options)).toEqual({ keys: 0, coldKeys: 0, revocationKeys: 0 });
    expect(planFor(['memory', 'revocation'], options)).toEqual({
      keys: 100_000,
      coldKeys: 0,
      revocationKeys: 2 * options.trials,
    });
  });
});

describe('pre-load check', () => {
  const servers: { close(): void }[] = [];
  afterAll(() => servers.forEach((server) => server.close()));

  it('refuses to load a target whose answer is not the expected one (a bench of wrong answers proves nothing)', async () => {
    const { server, url } = await startHello();
    servers.push(server);
    await expect(
      expectAnswer('hello', url, {}, { status: 200, body: (text) => text.includes('hello') }),
    ).resolves.toMatchObject({ status: 200 });
    await expect(
      expectAnswer('hello as 401', url, {}, { status: 401, errorCode: 'invalid_api_key' }),
    ).rejects.toThrow(
      /check failed for hello as 401: status 200, expected 401; error code undefined, expected invalid_api_key/,
    );
  });
});
