/**
 * Baseline: nginx `proxy_pass` to the mock upstream with an upstream keep-alive pool: the C
 * floor of what a reverse proxy costs on this machine. One worker process, no master, no access
 * log, so it competes for the same single core a Node process would. Skipped (with a note)
 * when `nginx` is not on PATH.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, type Child, type ProcessGroup } from '../processes.js';

export function findNginx(): string | undefined {
  for (const candidate of [
    'nginx',
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
    '/usr/local/nginx/sbin/nginx',
  ]) {
    const probe = spawnSync(candidate, ['-v'], { stdio: 'ignore' });
    if (probe.error === undefined && probe.status === 0) return candidate;
  }
  return undefined;
}

export function nginxConfig(dir: string, port: number, upstreamPort: number): string {
  return `worker_processes 1;
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream mock { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

export interface NginxBaseline {
  child: Child;
  url: string;
}

export function startNginx(
  group: ProcessGroup,
  binary: string,
  port: number,
  upstreamPort: number,
): NginxBaseline {
  const dir = makeTempDir('keygate-bench-nginx-');
  mkdirSync(join(dir, 'logs'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, upstreamPort));
  const child = group.spawnCommand('nginx', binary, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], {
    cwd: dir,
  });
  return { child, url: `http://127.0.0.1:${port}` };
}
