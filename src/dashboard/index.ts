/**
 * @module dashboard
 * The node's live dashboard: `/dashboard` (page), `/v1/events` (server-sent state), `/v1/dashboard/state`
 * (the same state once, as JSON). Open it with `revoada dashboard`, which prints a one-time login link.
 */
export { DashboardService } from './dashboard-service.js'
export type { DashboardServiceInit } from './dashboard-service.js'
export type { DashboardState, DashboardMember } from './model.js'
export { diffRoles, electionText, Timeline } from './timeline.js'
