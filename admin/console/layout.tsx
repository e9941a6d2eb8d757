/**
 * The console's page frame: navigation, the signed-in identity with sign-out, and the security
 * headers of every HTML answer (strict CSP: only this origin's script and stylesheet, no inline
 * code, forms post only here, never framed).
 */
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import { identityLabel, type PageState } from './console-context.js';

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function setPageHeaders(c: Context): void {
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-frame-options', 'DENY');
  c.header('cache-control', 'no-store');
}

const NAV = [
  { href: '/keys', label: 'API Keys' },
  { href: '/teams', label: 'Teams' },
  { href: '/targets', label: 'Targets & access groups' },
  { href: '/users', label: 'Users' },
  { href: '/audit', label: 'Audit log' },
];

export function Document(props: { title: string; csrf?: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · keygate`}</title>
        <link rel="icon" href="/console/assets/icon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/console/assets/console.css" />
        {props.csrf === undefined ? null : <meta name="csrf-token" content={props.csrf} />}
        <script src="/console/assets/console.js" defer></script>
      </head>
      <body>{props.children}</body>
    </html>
  );
}

export function Layout(props: { state: PageState; title: string; children: Child }) {
  const who = identityLabel(props.state.me);
  return (
    <Document title={props.title} csrf={props.state.csrf}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <div class="shell">
        <header class="sidebar">
          <p class="brand">keygate</p>
          <nav aria-label="Console">
            <ul>
              {NAV.map((item) => (
                <li>
                  <a
                    href={item.href}
                    aria-current={props.state.path.startsWith(item.href) ? 'page' : undefined}
                  >
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="identity">
            <p class="who" data-testid="identity">
              {who.name}
            </p>
            <p class="role">{who.role}</p>
            <form method="post" action="/sign-out">
              <input type="hidden" name="csrf" value={props.state.csrf} />
              <button type="submit" class="link">
                Sign out
              </button>
            </form>
          </div>
        </header>
        <main id="main" tabindex={-1}>
          {props.children}
        </main>
      </div>
    </Document>
  );
}

/** Shown where an API read answered an error (e.g. 403 for a caller without the permission). */
export function Unavailable(props: { what: string; status: number }) {
  return (
    <p class="notice">
      {props.what}{' '}
      {props.status === 403 ? 'is not available to you' : `could not be loaded (${props.status})`}.
    </p>
  );
}
