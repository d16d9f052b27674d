/**
 * The web dashboard: a page and JSON API over the Inspector, mountable in any Node HTTP server
 * (docs/dashboard.md).
 */
export { createDashboard, type DashboardHandler } from './handler.js';
export { startDashboard, type StartDashboardOptions, type RunningDashboard } from './start.js';
export type { DashboardOptions } from './options.js';
