/**
 * @module materializer/core
 * The pure part of the materializer: template rendering, the template view, and the reconcile plan.
 */
export { lookupVariable, parseTemplate, renderParsed, renderTemplate, variableValues, TEMPLATE_BYTES_MAX } from './render.js'
export type { ParsedTemplate, TemplateView } from './render.js'
export { RENDER_CACHE_TEMPLATES_MAX, TemplateRenderer } from './render-cache.js'
export { buildView, movesWithEveryEntry, urlHost, viewShapePart } from './view.js'
export type { ViewInput, ViewResult, ViewShapePart } from './view.js'
export { planReconcile, roleTransitions } from './plan.js'
export type { DesiredManifest, ReconcilePlan } from './plan.js'
