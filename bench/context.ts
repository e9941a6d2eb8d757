/**
 * What scenarios share during one run: the options, the process group, and the services started
 * lazily on first use (mock upstream, baselines, admin + gateway with their seeded fixture), so a
 * `--scenario` subset starts only what it needs. Everything is stopped by `close()`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './args.js';
import { findNginx, startNginx } from './baselines/nginx.js';
import type { LoadResult } from './load.js';
import type { Measurement, MeasurementKind } from './measurement.js';
import { Planes } from './planes.js';
import { profileNotes } from './profile.js';
import { freePort, waitForHttp, type Child, type ProcessGroup } from './processes.js';

export interface Service {
  url: string;
  port: number;
  child: Child;
}

/** Streamed answers of the mock: 20 chunks, 5 ms apart (about 100 ms per answer). */
export const STREAM_CHUNKS = 20;
export const STREAM_CHUNK_DELAY_MS = 5;

export class SkipScenario extends Error {
  override name = 'SkipScenario';
}

export interface RunPlan {
  /** Seed counts, decided from the selected scenarios. */
  keys: number;
  coldKeys: number;
  revocationKeys: number;
  /** `--profile`: where the planes write their CPU profiles (gateway/, admin/). */
  profileDir?: string;
}

export class BenchContext {
  readonly notes: string[] = [];
  private readonly services = new Map<string, Promise<Service>>();
  private planesPromise: Promise<Planes> | undefined;

  constructor(
    readonly options: BenchOptions,
    readonly group: ProcessGroup,
    readonly plan: RunPlan,
    readonly log: (line: string) => void,
  ) {}

  private service(name: string, start: () => Promise<Service>): Promise<Service> {
    let existing = this.services.get(name);
    if (existing === undefined) {
      existing = start();
      this.services.set(name, existing);
    }
    return existing;
  }

  upstream(): Promise<Service> {
    return this.service('mock-upstream', async () => {
      const port = await freePort();
      const child = this.group.start('mock-upstream', 'bench/mock-upstream', {
        args: [
          '--port',
          String(port),
          '--chunks',
          String(STREAM_CHUNKS),
          '--chunk-delay-ms',
          String(STREAM_CHUNK_DELAY_MS),
        ],
      });
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/healthz`, child);
      return { url, port, child };
    });
  }

  hello(): Promise<Service> {
    return this.service('hello', async () => {
      const port = await freePort();
      const child = this.group.start('hello', 'bench/baselines/hello', { args: ['--port', String(port)] });
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(url, child);
      return { url, port, child };
    });
  }

  bareProxy(): Promise<Service> {
    return this.service('bare-proxy', async () => {
      const upstream = await this.upstream();
      const port = await freePort();
      const child = this.group.start('bare-proxy', 'bench/baselines/bare-proxy', {
        args: ['--port', String(port), '--upstream', upstream.url],
      });
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/healthz`, child);
      return { url, port, child };
    });
  }

  nginx(): Promise<Service> {
    return this.service('nginx', async () => {
      const binary = findNginx();
      if (binary === undefined) throw new SkipScenario('nginx is not installed (not on PATH): row skipped');
      const upstream = await this.upstream();
      const port = await freePort();
      const { child, url } = startNginx(this.group, binary, port, upstream.port);
      await waitForHttp(`${url}/healthz`, child);
      return { url, port, child };
    });
  }

  planes(): Promise<Planes> {
    if (this.planesPromise === undefined) {
      const missing = Planes.available(this.group);
      if (missing !== undefined) throw new SkipScenario(`admin plane / gateway ${missing}`);
      this.planesPromise = (async () => {
        const upstream = await this.upstream();
        this.log(
          `starting admin plane and gateway (seeding ${this.plan.keys} warm + ${this.plan.coldKeys} cold + ${this.plan.revocationKeys} revocation keys)`,
        );
        return Planes.start(this.group, { upstreamUrl: upstream.url, ...this.plan, log: this.log });
      })();
    }
    return this.planesPromise;
  }

  private summarizeProfile(dir: string): void {
    for (const plane of ['gateway', 'admin'] as const) {
      const files = profilesIn(join(dir, plane));
      if (files.length === 0) {
        this.notes.push(`--profile: no ${plane} CPU profile in ${join(dir, plane)} (did it exit cleanly?)`);
        continue;
      }
      try {
        // The admin plane restarts during the run (seeding, revocation modes): keep the runs under load.
        this.notes.push(...profileNotes(plane, plane === 'gateway' ? files : files.slice(-3)));
      } catch (error) {
        this.notes.push(`--profile: could not read the ${plane} profile: ${String(error)}`);
      }
    }
  }

  /** Stop everything this context started (the group's stopAll is the backstop). */
  async close(): Promise<void> {
    if (this.planesPromise !== undefined) {
      const planes = await this.planesPromise.catch(() => undefined);
      await planes?.stop();
      if (planes !== undefined && this.plan.profileDir !== undefined)
        this.summarizeProfile(this.plan.profileDir);
    }
    await this.group.stopAll();
  }
}

/** CPU profiles in `dir`, oldest first. */
function profilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.cpuprofile'))
    .map((file) => join(dir, file))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
}

export function loadRow(
  fields: {
    id: string;
    scenario: string;
    title: string;
    kind: MeasurementKind;
    reference?: string;
    note?: string;
  },
  connections: number,
  expectedStatus: number,
  result: LoadResult,
  extra?: Measurement['extra'],
): Measurement {
  return {
    ...fields,
    connections,
    durationS: result.durationS,
    requests: result.requests,
    rps: result.rps,
    p50Ms: result.latency.p50Ms,
    p90Ms: result.latency.p90Ms,
    p99Ms: result.latency.p99Ms,
    errors: result.errors,
    expectedStatus,
    extra: { ...extra, ...cpuPerRequest(result), statusCounts: JSON.stringify(result.statusCounts) },
  };
}

/** `<label>CpuUsPerRequest`: µs of each sampled process's CPU per response of the run. */
export function cpuPerRequest(result: LoadResult): Record<string, number> {
  const figures: Record<string, number> = {};
  if (result.cpuMs === undefined || result.requests === 0) return figures;
  for (const [label, ms] of Object.entries(result.cpuMs))
    figures[`${label}CpuUsPerRequest`] = Math.round((ms * 1000) / result.requests);
  return figures;
}
