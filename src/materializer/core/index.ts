/**
 * @module materializer/core
 * The pure part of the materializer: template rendering, the template view, and the reconcile plan.
 */
export { renderTemplate, TEMPLATE_BYTES_MAX } from './render.js'
export type { TemplateView } from './render.js'
export { buildView, urlHost } from './view.js'
export type { ViewInput, ViewResult } from './view.js'
export { planReconcile, roleTransitions } from './plan.js'
export type { DesiredManifest, ReconcilePlan } from './plan.js'
