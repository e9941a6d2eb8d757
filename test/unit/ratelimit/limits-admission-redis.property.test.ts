/**
 * The admission property tests of limits-admission.property.test.ts on the Redis stores (a single
 * Redis and a 3-master Cluster), against the same reference model (limits-admission.model.ts).
 */
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { RedisSpendStore } from '../../../src/budget/redis-spend-store.js';
import type { RedisClient } from '../../../src/ratelimit/redis-connection.js';
import { RedisCounterStore } from '../../../src/ratelimit/redis-counter-store.js';
import { deploymentNames, noRedisMessage, uniquePrefix, useDeployment } from '../../helpers/redis-targets.js';
import { run, scenarioArb, type Stores } from './limits-admission.model.js';

const redisDeployments = deploymentNames();
if (redisDeployments.length === 0)
  console.warn(noRedisMessage('admission property tests on the Redis stores'));

// Concurrent (both deployments, both properties): each run has its own key prefix, so the Redis round
// trips of the four overlap; the runs and their checks are the same.
describe.skipIf(redisDeployments.length === 0).concurrent.each(redisDeployments)(
  'LimitsAdmission on the Redis stores (%s Redis) against the same model',
  (name) => {
    const deployment = useDeployment(name);
    let redis: RedisClient;
    let runs = 0;
    const base = uniquePrefix('property');
    const stores = (): Stores => {
      const prefix = `${base}${++runs}:`;
      return {
        store: new RedisCounterStore({ redis, prefix }),
        spend: new RedisSpendStore({ redis, prefix, reservationTtlMs: 600_000 }),
        redis: true,
      };
    };

    beforeAll(async () => {
      redis = await deployment.connect({ commandTimeoutMs: 5000 });
    });

    it('decides like the model (conservative budget refusals in bursts aside); refused charge nothing; tokens reconcile', async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb(3), (scenario) => run(scenario, false, stores())),
        { numRuns: 60 },
      );
    }, 120_000);

    it('settled spend never exceeds a budget when real usage stays within the estimate and max tokens', async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb(1), (scenario) => run(scenario, true, stores())),
        { numRuns: 60 },
      );
    }, 120_000);
  },
);
