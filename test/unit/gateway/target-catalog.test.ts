import { describe, expect, it } from 'vitest';
import type { TargetRoute } from '../../../src/policy/resolved-policy.js';
import { TargetCatalog } from '../../../gateway/target-catalog.js';
import { targetRoute } from '../../helpers/gateway-fixtures.js';

/** A target source whose answers the test releases one by one (read at call time). */
class HeldSource {
  targets: TargetRoute[] = [];
  seq = 0;
  reads = 0;
  private readonly waiting: (() => void)[] = [];
  async targets_(): Promise<{ seq: number; targets: TargetRoute[] }> {
    this.reads++;
    const answer = { seq: this.seq, targets: [...this.targets] };
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return answer;
  }
  releaseAll(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

describe('TargetCatalog', () => {
  it('parses each base URL once: origin and base path without trailing slash', () => {
    const catalog = new TargetCatalog({ targets: async () => ({ seq: 0, targets: [] }) });
    catalog.replace([
      targetRoute('a', 'http://127.0.0.1:9000/openai/v1/'),
      targetRoute('bad', 'ftp://x/'),
      targetRoute('junk', 'not a url'),
    ]);
    expect(catalog.get('a')).toMatchObject({ origin: 'http://127.0.0.1:9000', basePath: '/openai/v1' });
    expect(catalog.get('bad')).toBeUndefined();
    expect(catalog.get('junk')).toBeUndefined();
    expect(catalog.loaded).toBe(true);
  });

  it('a reload asked for during a running reload gets a fresh read, not the older one', async () => {
    const source = new HeldSource();
    const catalog = new TargetCatalog({ targets: () => source.targets_() });
    source.targets = [targetRoute('old', 'http://h/v1')];
    const first = catalog.reload();
    await Promise.resolve();
    expect(source.reads).toBe(1); // the first read has happened (with 'old' only)
    source.targets = [targetRoute('old', 'http://h/v1'), targetRoute('new', 'http://h/v1')];
    source.seq = 7;
    const second = catalog.reload();
    const third = catalog.reload(); // joins the queued (not yet started) reload
    expect(third).toBe(second);
    source.releaseAll();
    await first;
    await new Promise((resolve) => setTimeout(resolve, 0));
    source.releaseAll();
    expect((await second).seq).toBe(7);
    expect(catalog.get('new')).toBeDefined();
    expect(source.reads).toBe(2);
  });
});
