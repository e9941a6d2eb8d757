import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';

/** Placeholder replaced in the explain commit. */
export function registerKeyExplainRoutes(_app: AdminApp, _deps: AdminDeps): void {}
