/**
 * The README is the front door: every config variable and error code that exists in the code is
 * documented there, and nothing documented is missing from the code (fastify's errors.test habit).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../../src/config/config.js';
import { ERROR_REGISTRY, type ErrorCode } from '../../../src/errors/registry.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`## ${title}`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 3);
  return readme.slice(start, end === -1 ? undefined : end);
}

function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'))
    .slice(1)
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
}

describe('README ↔ code', () => {
  it('documents every config variable the loader reads, with its default, and no others', () => {
    const rows = tableRows(section('Configuration'));
    const documented = new Map(rows.map((row) => [row[0]!.replaceAll('`', ''), row[1]!]));
    expect([...documented.keys()].sort()).toEqual(Object.keys(CONFIG_VARIABLES).sort());
    for (const [name, spec] of Object.entries(CONFIG_VARIABLES)) {
      if (spec.default !== undefined) expect(documented.get(name), name).toBe(`\`${spec.default}\``);
    }
  });

  it('documents every error code of the registry with its status, and no others', () => {
    const rows = tableRows(section('Errors'));
    const documented = new Map(rows.map((row) => [row[1]!.replaceAll('`', ''), Number(row[0])]));
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_REGISTRY).sort());
    for (const [code, spec] of Object.entries(ERROR_REGISTRY)) {
      expect(documented.get(code), code).toBe(spec.status);
    }
  });

  it('the error registry gives every code a status, an OpenAI type and a message', () => {
    for (const code of Object.keys(ERROR_REGISTRY) as ErrorCode[]) {
      const spec = ERROR_REGISTRY[code];
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.type.length).toBeGreaterThan(0);
      expect(spec.message.length).toBeGreaterThan(0);
      expect(spec.retryable).toBe(spec.status === 429 ? code === 'rate_limit_exceeded' : spec.status >= 500);
    }
  });

  it('documents every metric of both planes (usage delivery and the key cache included)', () => {
    const files = ['gateway/request-metrics.ts', 'gateway/metrics.ts', 'admin/admin-metrics.ts'];
    const names = files.flatMap((file) => {
      const code = readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
      return [...code.matchAll(/'(keygate_(?:gateway|admin)_[a-z_]+)'/g)].map((match) => match[1]!);
    });
    expect(names).toContain('keygate_gateway_usage_refused_batches_total');
    expect(names).toContain('keygate_gateway_change_seq');
    expect(names).toContain('keygate_admin_usage_batches_total');
    for (const name of names) expect(readme, name).toContain(`| \`${name}\``);
  });

  it('documents every keygate command in the README and docs/api.md', () => {
    const cli = readFileSync(new URL('../../../bin/keygate.ts', import.meta.url), 'utf8');
    const api = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    const commands = [...cli.matchAll(/case '([a-z]+)':/g)].map((match) => match[1]!);
    expect(commands).toContain('usage');
    // `keygate gateway` also appears as "`npx keygate admin` / `gateway`".
    const mentions = (text: string, command: string) =>
      text.includes(`keygate ${command}`) || text.includes(`/ \`${command}\``);
    for (const command of commands) {
      expect(mentions(readme, command), `README mentions keygate ${command}`).toBe(true);
      expect(mentions(api, command), `docs/api.md mentions keygate ${command}`).toBe(true);
    }
  });

  it('shows the two front-door commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
