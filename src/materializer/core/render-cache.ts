/**
 * @module materializer/core/render-cache
 * Parses each template once and re-renders it only when a value it uses changes. A node reconciles on every
 * applied entry, and YAML parsing and writing were most of the materializer's cost while the output almost
 * never changes (the view's `shape.index` moves with every entry, but the catalog templates do not use it).
 *
 * Entries are keyed by the template text, so a cached result can only be one of this very text; the cache
 * holds the most recently used RENDER_CACHE_TEMPLATES_MAX templates and, per template, its last rendering.
 * A template that fails to parse is not cached (its error is raised again, with the caller's label); one
 * whose variables are missing is cached parsed and raises the same error as an uncached render.
 */
import { parseTemplate, renderParsed, variableValues } from './render.js'
import type { ParsedTemplate, TemplateView } from './render.js'

/** Templates kept parsed: 4 roles × 8 templates (the catalog limit) plus the 4 defaults, with room to spare. */
export const RENDER_CACHE_TEMPLATES_MAX = 64

interface Entry {
  parsed: ParsedTemplate
  /** The variable values of the last rendering (JSON of the array, so 1 and '1' differ). */
  valuesKey?: string
  output?: string
}

export class TemplateRenderer {
  private readonly entries = new Map<string, Entry>()
  /** Templates parsed (cache misses); for tests and status. */
  parses = 0
  /** Templates rendered (YAML written); for tests and status. */
  renders = 0

  constructor (private readonly capacity = RENDER_CACHE_TEMPLATES_MAX) {}

  /**
   * Parses `text` (cached) and checks it against `view` without rendering. The key is equal for two views
   * exactly when the template's variables have the same values in both, so the output is the same.
   * @throws TemplateError / TemplateVariableError exactly as `renderTemplate` would
   */
  valuesKey (text: string, view: TemplateView, label: string): string {
    return this.check(text, view, label).valuesKey
  }

  /**
   * `renderTemplate(text, view, label)`, from the cache when the template's values are the same as last time.
   * @throws TemplateError / TemplateVariableError exactly as `renderTemplate` would
   */
  render (text: string, view: TemplateView, label: string): string {
    const { entry, valuesKey } = this.check(text, view, label)
    if (entry.valuesKey === valuesKey && entry.output !== undefined) return entry.output
    const output = renderParsed(entry.parsed, view, label)
    this.renders++
    entry.valuesKey = valuesKey
    entry.output = output
    return output
  }

  /**
   * The variables `text` uses (parsed once, cached).
   * @throws TemplateError when it does not parse, as `renderTemplate` would
   */
  variables (text: string, label: string): readonly string[] {
    return this.entry(text, label).parsed.variables
  }

  /** Templates held. */
  get size (): number {
    return this.entries.size
  }

  private check (text: string, view: TemplateView, label: string): { entry: Entry, valuesKey: string } {
    const entry = this.entry(text, label)
    return { entry, valuesKey: JSON.stringify(variableValues(entry.parsed, view, label)) }
  }

  private entry (text: string, label: string): Entry {
    const cached = this.entries.get(text)
    if (cached !== undefined) {
      // Most recently used last: the first key is the one to evict.
      this.entries.delete(text)
      this.entries.set(text, cached)
      return cached
    }
    const entry: Entry = { parsed: parseTemplate(text, label) }
    this.parses++
    this.entries.set(text, entry)
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    return entry
  }
}
