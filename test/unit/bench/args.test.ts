import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseArgs, QUICK, UsageError } from '../../../bench/args.js';

describe('bench command line', () => {
  it('defaults to every scenario, 10 s runs, 100,000 keys and 50 revocation trials', () => {
    const options = parseArgs([]);
    expect(options.scenarios).toEqual([]);
    expect(options.durationS).toBe(DEFAULTS.durationS);
    expect(options.keys).toBe(100_000);
    expect(options.trials).toBeGreaterThanOrEqual(50);
    expect(options.write).toBe(true);
  });

  it('--quick shrinks durations and counts, and explicit flags still win over it', () => {
    expect(parseArgs(['--quick']).durationS).toBe(QUICK.durationS);
    expect(parseArgs(['--duration', '7', '--quick']).durationS).toBe(7);
    expect(parseArgs(['--quick', '--keys=500']).keys).toBe(500);
  });

  it('--scenario is repeatable and takes comma lists, without duplicates', () => {
    expect(
      parseArgs(['--scenario', 'hot-key,many-keys', '--scenario', 'hot-key', '--scenario=memory']).scenarios,
    ).toEqual(['hot-key', 'many-keys', 'memory']);
  });

  it('reads --connections, --compare and --no-write', () => {
    const options = parseArgs(['--connections', '8', '--compare', 'main', '--no-write']);
    expect(options.connections).toBe(8);
    expect(options.compare).toBe('main');
    expect(options.write).toBe(false);
  });

  it('refuses unknown flags, missing values and non-numbers with a usage error', () => {
    expect(() => parseArgs(['--fast'])).toThrow(UsageError);
    expect(() => parseArgs(['--duration'])).toThrow(/--duration/);
    expect(() => parseArgs(['--connections', 'many'])).toThrow(/--connections/);
    expect(() => parseArgs(['--connections', '0'])).toThrow(UsageError);
    expect(() => parseArgs(['--compare', '--quick'])).toThrow(/git ref/);
  });
});

describe('bench --node / --compare-node', () => {
  it('reads a node binary for the gateway and one to compare with, and refuses a missing path', () => {
    const options = parseArgs(['--node', '/opt/node24/bin/node', '--compare-node=/usr/bin/node']);
    expect(options.node).toBe('/opt/node24/bin/node');
    expect(options.compareNode).toBe('/usr/bin/node');
    expect(parseArgs([]).node).toBeUndefined();
    expect(() => parseArgs(['--node'])).toThrow(UsageError);
    expect(() => parseArgs(['--node', '--quick'])).toThrow(UsageError);
    expect(() => parseArgs(['--compare', 'main', '--compare-node', '/usr/bin/node'])).toThrow(UsageError);
  });
});

describe('ProcessGroup.nodeFor', () => {
  it('runs the gateway and the Node baselines under --node, the admin plane, mock and runner on this node', async () => {
    const { Entrypoints, ProcessGroup } = await import('../../../bench/processes.js');
    const group = new ProcessGroup(new Entrypoints('/x'), new Entrypoints('/x'), '/opt/node24/bin/node');
    for (const entry of [
      'gateway/main',
      'bench/baselines/hello',
      'bench/baselines/bare-proxy',
      'bench/decision-bench',
    ])
      expect(group.nodeFor(entry)).toBe('/opt/node24/bin/node');
    for (const entry of ['admin/main', 'bench/mock-upstream'])
      expect(group.nodeFor(entry)).toBe(process.execPath);
    expect(new ProcessGroup(new Entrypoints('/x')).nodeFor('gateway/main')).toBe(process.execPath);
  });
});
