/**
 * Measures what the per-request info line costs on a hot key (issue 13, item 13): the same
 * gateway build with KEYGATE_LOG_LEVEL=warn (no request lines) and =info, alternated, autocannon
 * on one key. Reports throughput and the gateway's own CPU per request (utime + stime from
 * /proc/<pid>/stat): the load generator also drains the gateway's stdout pipe here, so the
 * throughput ratio counts the log consumer's work too, the CPU figure only the gateway's.
 * Run by hand: `node --import tsx test/faults/measure-logging.ts [seconds]`.
 * Not part of test:faults (a throughput figure on a shared machine is a measurement, not a test).
 * Load-independent figures (instructions, CPU time and system calls per request over a fixed
 * request count, stdout a file or a pipe): bench/logging-cost.ts.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { startFaultStack } from './fault-stack.js';

const seconds = Number(process.argv[2] ?? 5);
/** CPU seconds (user + system) a process has used so far. */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
};
const stack = await startFaultStack({ KEYGATE_LOG_LEVEL: 'warn' });
try {
  const secret = await stack.seed(['small']);
  const rates: Record<string, number[]> = { warn: [], info: [] };
  const cpuPerRequest: Record<string, number[]> = { warn: [], info: [] };
  for (const level of ['warn', 'info', 'warn', 'info', 'warn', 'info']) {
    await stack.gateway.stop('SIGTERM');
    await stack.startGateway({ KEYGATE_LOG_LEVEL: level });
    (stack.gateway.child.stdout ?? process.stdout).removeAllListeners('data'); // do not hold the lines in memory
    const pid = stack.gateway.child.pid!;
    const cpuBefore = cpuSeconds(pid);
    const result = await autocannon({
      url: `${stack.gatewayUrl}/v1/chat/completions`,
      method: 'POST',
      connections: 32,
      duration: seconds,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
    });
    const cpuUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / result.requests.total;
    rates[level]!.push(result.requests.average);
    cpuPerRequest[level]!.push(cpuUs);
    process.stdout.write(
      `${level}: ${result.requests.average.toFixed(0)} rps (non-2xx ${result.non2xx}), gateway CPU ${cpuUs.toFixed(1)} µs/request\n`,
    );
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const cost = 1 - mean(rates.info!) / mean(rates.warn!);
  const cpuCost = mean(cpuPerRequest.info!) / mean(cpuPerRequest.warn!) - 1;
  process.stdout.write(
    `mean warn ${mean(rates.warn!).toFixed(0)} rps, info ${mean(rates.info!).toFixed(0)} rps: logging costs ${(cost * 100).toFixed(1)} % of throughput; ` +
      `gateway CPU ${mean(cpuPerRequest.warn!).toFixed(1)} vs ${mean(cpuPerRequest.info!).toFixed(1)} µs/request (+${(cpuCost * 100).toFixed(1)} %)\n`,
  );
} finally {
  await stack.stop();
}
