/**
 * Measures what the per-request info line costs on a hot key (issue 13, item 13): the same
 * gateway build with KEYGATE_LOG_LEVEL=warn (no request lines) and =info, alternated, autocannon
 * on one key. Run by hand: `node --import tsx test/faults/measure-logging.ts [seconds]`.
 * Not part of test:faults (a throughput figure on a shared machine is a measurement, not a test).
 */
import autocannon from 'autocannon';
import { startFaultStack } from './fault-stack.js';

const seconds = Number(process.argv[2] ?? 5);
const stack = await startFaultStack({ KEYGATE_LOG_LEVEL: 'warn' });
try {
  const secret = await stack.seed(['small']);
  const rates: Record<string, number[]> = { warn: [], info: [] };
  for (const level of ['warn', 'info', 'warn', 'info', 'warn', 'info']) {
    await stack.gateway.stop('SIGTERM');
    await stack.startGateway({ KEYGATE_LOG_LEVEL: level });
    (stack.gateway.child.stdout ?? process.stdout).removeAllListeners('data'); // do not hold the lines in memory
    const result = await autocannon({
      url: `${stack.gatewayUrl}/v1/chat/completions`,
      method: 'POST',
      connections: 32,
      duration: seconds,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
    });
    rates[level]!.push(result.requests.average);
    process.stdout.write(`${level}: ${result.requests.average.toFixed(0)} rps (non-2xx ${result.non2xx})\n`);
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const cost = 1 - mean(rates.info!) / mean(rates.warn!);
  process.stdout.write(
    `mean warn ${mean(rates.warn!).toFixed(0)} rps, info ${mean(rates.info!).toFixed(0)} rps: logging costs ${(cost * 100).toFixed(1)} %\n`,
  );
} finally {
  await stack.stop();
}
