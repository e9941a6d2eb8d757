/** Every admin resource route module, registered in this order by createAdminApp. */
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { registerOrgRoutes } from './orgs.js';
import { registerUserRoutes } from './users.js';
import { registerTeamRoutes } from './teams.js';
import { registerServiceAccountRoutes } from './service-accounts.js';
import { registerAuditRoutes } from './audit.js';
import { registerUsageRoutes } from './usage.js';
import { registerTargetRoutes } from './targets.js';
import { registerAccessGroupRoutes } from './access-groups.js';
import { registerKeyRoutes } from './keys.js';
import { registerKeyBlockingRoutes } from './key-blocking.js';
import { registerKeyOverrideRoutes } from './key-overrides.js';
import { registerKeyExplainRoutes } from './key-explain.js';
import { registerPasswordLinkRoutes } from './password-links.js';

export type RouteModule = (app: AdminApp, deps: AdminDeps) => void;

export const ADMIN_ROUTES: readonly RouteModule[] = [
  registerOrgRoutes,
  registerUserRoutes,
  registerTeamRoutes,
  registerServiceAccountRoutes,
  registerAuditRoutes,
  registerUsageRoutes,
  registerTargetRoutes,
  registerAccessGroupRoutes,
  registerKeyRoutes,
  registerKeyBlockingRoutes,
  registerKeyOverrideRoutes,
  registerKeyExplainRoutes,
  registerPasswordLinkRoutes,
];
