/**
 * Transitional re-export for the route files still being changed on another branch
 * (admin/routes/keys.ts, admin/routes/users.ts): import src/storage/pagination.ts instead; delete
 * this file once nothing imports it.
 */
export { paginate } from '../src/storage/pagination.js';
