/**
 * @module materializer
 * Roles become running components (DESIGN.md §9, issue 15): the role catalog's templates are rendered into
 * static-pod manifests for this node's roles, written atomically, removed when a role moves, with optional
 * hooks per transition.
 */
export { MaterializerService } from './materializer-service.js'
export type { MaterializerInit, ManifestRecord, MaterializerEvent, TemplateContent } from './materializer-service.js'
export { loadDefaultCatalog, DEFAULT_TEMPLATE_FILES } from './default-catalog.js'
export * from './errors.js'
