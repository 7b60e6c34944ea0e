/**
 * @module materializer/core/render
 * Renders one manifest template (issue 15): the template is parsed as YAML first, then each string value is
 * rendered with Mustache, then the object is written back as YAML. Rendering values inside the parsed tree
 * (not the raw text) means no value — an address, a NodeId — can change the manifest's structure.
 *
 * Only plain `{{name}}` / `{{{name}}}` / `{{&name}}` substitutions are allowed, and every name must resolve
 * in the view: Mustache renders an unknown name as '', which would silently produce `--advertise-address=`.
 */
import Mustache from 'mustache'
import { parseAllDocuments, stringify } from 'yaml'
import { TemplateError, TemplateVariableError } from '../errors.js'

/** Values a template may use; nested objects are reached with dotted names (`node.address`). */
export type TemplateView = { [key: string]: string | number | TemplateView }

/** Largest template accepted, in bytes (a static-pod manifest is a few KiB). */
export const TEMPLATE_BYTES_MAX = 256 * 1024

const NO_ESCAPE = { escape: (value: unknown): string => String(value) }

function lookup (view: TemplateView, name: string): string | number | undefined {
  let node: string | number | TemplateView | undefined = view
  for (const part of name.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined
    node = node[part]
  }
  return typeof node === 'object' ? undefined : node
}

/** Checks that `text` uses only plain substitutions of names the view defines. */
function checkVariables (text: string, view: TemplateView, label: string): void {
  let tokens: unknown[][]
  try {
    tokens = Mustache.parse(text) as unknown[][]
  } catch (err) {
    throw new TemplateError(`template ${label}: ${(err as Error).message}`)
  }
  for (const token of tokens) {
    const kind = token[0]
    if (kind === 'text') continue
    if (kind !== 'name' && kind !== '&') throw new TemplateError(`template ${label}: only {{variable}} substitutions are allowed, found a '${String(kind)}' tag`)
    const name = String(token[1])
    if (lookup(view, name) === undefined) throw new TemplateVariableError(name, label)
  }
}

function renderValue (value: unknown, view: TemplateView, label: string): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value
    checkVariables(value, view, label)
    return Mustache.render(value, view, {}, NO_ESCAPE)
  }
  if (Array.isArray(value)) return value.map((item) => renderValue(item, view, label))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = renderValue(item, view, label)
    return out
  }
  return value
}

/**
 * Renders `text` (one YAML document holding one Kubernetes object) with `view`.
 * @throws TemplateError when the template is not one YAML mapping with apiVersion and kind, or uses sections
 * @throws TemplateVariableError when it names a variable the view lacks
 */
export function renderTemplate (text: string, view: TemplateView, label: string): string {
  if (text.length > TEMPLATE_BYTES_MAX) throw new TemplateError(`template ${label} is larger than ${TEMPLATE_BYTES_MAX} bytes`)
  const documents = parseAllDocuments(text)
  if (!Array.isArray(documents) || documents.length !== 1) throw new TemplateError(`template ${label} must hold exactly one YAML document`)
  const document = documents[0]!
  if (document.errors.length > 0) throw new TemplateError(`template ${label}: ${document.errors[0]!.message}`)
  const object = document.toJS({ maxAliasCount: 0 }) as unknown
  if (typeof object !== 'object' || object === null || Array.isArray(object)) throw new TemplateError(`template ${label} is not a YAML mapping`)
  const record = object as Record<string, unknown>
  if (typeof record.apiVersion !== 'string' || typeof record.kind !== 'string') throw new TemplateError(`template ${label} has no apiVersion or kind`)
  const rendered = renderValue(record, view, label)
  return stringify(rendered, { lineWidth: 0 })
}
