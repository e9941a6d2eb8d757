/** Every admin resource route module, registered in this order by createAdminApp. */
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { registerOrgRoutes } from './orgs.js';

export type RouteModule = (app: AdminApp, deps: AdminDeps) => void;

export const ADMIN_ROUTES: readonly RouteModule[] = [registerOrgRoutes];
