/**
 * @module materializer/core/render
 * Renders one manifest template (issue 15): the template is parsed as YAML first, then each string value is
 * rendered with Mustache, then the object is written back as YAML. Rendering values inside the parsed tree
 * (not the raw text) means no value — an address, a NodeId — can change the manifest's structure.
 *
 * Only plain `{{name}}` / `{{{name}}}` / `{{&name}}` substitutions are allowed, and every name must resolve
 * in the view: Mustache renders an unknown name as '', which would silently produce `--advertise-address=`.
 *
 * Parsing and checking the tags does not depend on the view, so it is split from rendering: a parsed
 * template lists the variables it uses, which lets a cache (render-cache.ts) parse each template once and
 * re-render it only when one of those values changes.
 */
import Mustache from 'mustache'
import { CST, Lexer, parseAllDocuments, stringify } from 'yaml'
import { TemplateError, TemplateVariableError } from '../errors.js'

/** Values a template may use; nested objects are reached with dotted names (`node.address`). */
export type TemplateView = { [key: string]: string | number | TemplateView }

/** Largest template accepted, in bytes (a static-pod manifest is a few KiB). */
export const TEMPLATE_BYTES_MAX = 256 * 1024

/** A template parsed and checked once; render it with `renderParsed`. */
export interface ParsedTemplate {
  /** The YAML mapping, values still holding their `{{…}}` tags. */
  readonly object: Readonly<Record<string, unknown>>
  /** The names substituted, in the order rendering meets them (repeats kept), up to `problem`. */
  readonly variables: readonly string[]
  /**
   * The first tag that is not a plain substitution (or a Mustache syntax error), without the label; rendering
   * throws it after checking `variables`, the order in which one walk over the tree would meet them.
   */
  readonly problem: string | undefined
}

const NO_ESCAPE = { escape: (value: unknown): string => String(value) }

/** The value of a dotted `name` in `view`: a string or number, else undefined (missing, or an object). */
export function lookupVariable (view: TemplateView, name: string): string | number | undefined {
  let node: string | number | TemplateView | undefined = view
  for (const part of name.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined
    node = node[part]
  }
  return typeof node === 'object' ? undefined : node
}

/** Adds the names `text` substitutes to `names`; returns the first disallowed tag, if any. */
function collectVariables (text: string, names: string[]): string | undefined {
  let tokens: unknown[][]
  try {
    tokens = Mustache.parse(text) as unknown[][]
  } catch (err) {
    return (err as Error).message
  }
  for (const token of tokens) {
    const kind = token[0]
    if (kind === 'text') continue
    if (kind !== 'name' && kind !== '&') return `only {{variable}} substitutions are allowed, found a '${String(kind)}' tag`
    names.push(String(token[1]))
  }
  return undefined
}

/** Walks the tree in rendering order; stops at the first disallowed tag. */
function collectTree (value: unknown, names: string[]): string | undefined {
  if (typeof value === 'string') return value.includes('{{') ? collectVariables(value, names) : undefined
  const items = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : []
  for (const item of items) {
    const problem = collectTree(item, names)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** Occurrences of `{{` in `text`, not overlapping (`{{{` is one). */
function countOpenings (text: string): number {
  let count = 0
  for (let at = text.indexOf('{{'); at !== -1; at = text.indexOf('{{', at + 2)) count++
  return count
}

/** `{{` in the template's comments: dropped from the output, never rendered, so allowed. */
function commentOpenings (text: string): number {
  let count = 0
  for (const token of new Lexer().lex(text)) if (CST.tokenType(token) === 'comment') count += countOpenings(token)
  return count
}

/** `{{` in the string values rendering walks (mapping values and sequence items; keys are not rendered). */
function valueOpenings (value: unknown): number {
  if (typeof value === 'string') return countOpenings(value)
  const items = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : []
  return items.reduce<number>((sum, item) => sum + valueOpenings(item), 0)
}

/**
 * NB: YAML reads an unquoted `name: {{node.name}}` as a flow mapping, not a string, so no tag is found there
 * and the manifest would be written with `{node.name: null}` in it. Every `{{` of the text must therefore be
 * in a string value (or a comment); one anywhere else (an unquoted value, a key) refuses the template.
 */
function unrenderedOpenings (text: string, object: unknown): number {
  return countOpenings(text) - commentOpenings(text) - valueOpenings(object)
}

/**
 * Parses `text` (one YAML document holding one Kubernetes object) and lists the variables it uses.
 * @throws TemplateError when the template is not one YAML mapping with apiVersion and kind, or has a `{{`
 *   outside a string value or comment (an unquoted tag)
 */
export function parseTemplate (text: string, label: string): ParsedTemplate {
  if (text.length > TEMPLATE_BYTES_MAX) throw new TemplateError(`template ${label} is larger than ${TEMPLATE_BYTES_MAX} bytes`)
  const documents = parseAllDocuments(text)
  if (!Array.isArray(documents) || documents.length !== 1) throw new TemplateError(`template ${label} must hold exactly one YAML document`)
  const document = documents[0]!
  if (document.errors.length > 0) throw new TemplateError(`template ${label}: ${document.errors[0]!.message}`)
  const object = document.toJS({ maxAliasCount: 0 }) as unknown
  if (typeof object !== 'object' || object === null || Array.isArray(object)) throw new TemplateError(`template ${label} is not a YAML mapping`)
  const unrendered = unrenderedOpenings(text, object)
  if (unrendered > 0) {
    throw new TemplateError(`template ${label}: ${unrendered} {{ outside a string value would not be rendered (YAML reads an unquoted ` +
      '{{name}} as a mapping): quote the value, e.g. "{{node.address}}"')
  }
  const record = object as Record<string, unknown>
  if (typeof record.apiVersion !== 'string' || typeof record.kind !== 'string') throw new TemplateError(`template ${label} has no apiVersion or kind`)
  const variables: string[] = []
  const problem = collectTree(record, variables)
  return { object: record, variables, problem }
}

/**
 * The values of the template's variables in `view`, in order: the rendered output depends on nothing else.
 * @throws TemplateVariableError when it names a variable the view lacks
 * @throws TemplateError when it uses sections, partials or other tags
 */
export function variableValues (parsed: ParsedTemplate, view: TemplateView, label: string): Array<string | number> {
  const values: Array<string | number> = []
  for (const name of parsed.variables) {
    const value = lookupVariable(view, name)
    if (value === undefined) throw new TemplateVariableError(name, label)
    values.push(value)
  }
  if (parsed.problem !== undefined) throw new TemplateError(`template ${label}: ${parsed.problem}`)
  return values
}

function substitute (value: unknown, view: TemplateView): unknown {
  if (typeof value === 'string') return value.includes('{{') ? Mustache.render(value, view, {}, NO_ESCAPE) : value
  if (Array.isArray(value)) return value.map((item) => substitute(item, view))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = substitute(item, view)
    return out
  }
  return value
}

/**
 * Renders a parsed template with `view`.
 * @throws TemplateVariableError when it names a variable the view lacks
 * @throws TemplateError when it uses sections, partials or other tags
 */
export function renderParsed (parsed: ParsedTemplate, view: TemplateView, label: string): string {
  variableValues(parsed, view, label)
  return stringify(substitute(parsed.object, view), { lineWidth: 0 })
}

/**
 * Renders `text` (one YAML document holding one Kubernetes object) with `view`.
 * @throws TemplateError when the template is not one YAML mapping with apiVersion and kind, or uses sections
 * @throws TemplateVariableError when it names a variable the view lacks
 */
export function renderTemplate (text: string, view: TemplateView, label: string): string {
  return renderParsed(parseTemplate(text, label), view, label)
}
