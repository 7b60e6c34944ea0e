/**
 * @module consensus/shape/core/catalog
 * The role catalog (DESIGN.md §5, §9; issue 15): for each control-plane role, the manifest templates that the
 * materializer renders on the role's holders, each named by the CID of its bytes in the content layer. The
 * catalog is part of the committed shape, so every node renders from the same templates. A role with no
 * entry uses the default templates shipped with the build (`catalog/`).
 */
import { BLAKE3_MULTIHASH_CODE, DAG_CBOR_CODE, RAW_CODE, canonicalCidText, parseCid } from '../../../codec/index.js'
import { PROTOCOL_CANONICAL_CATALOG } from './protocol.js'
import { CONTROL_PLANE_ROLES } from './types.js'
import type { CatalogTemplate, ControlPlaneRole } from './types.js'
import { MAX_TEMPLATES_PER_ROLE, MAX_TEMPLATE_CID_LENGTH, MAX_TEMPLATE_NAME_LENGTH } from './constants.js'

/**
 * A template's file name: a plain YAML file name, no path separators and no leading dot (kubelet ignores
 * dot-files, and the materializer uses them for its temporary files).
 */
const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]*\.ya?ml$/

/** Why `name` cannot name a template file, or null. */
export function templateNameProblem (name: unknown): string | null {
  if (typeof name !== 'string') return 'template name is not a string'
  if (name.length > MAX_TEMPLATE_NAME_LENGTH) return `template name longer than ${MAX_TEMPLATE_NAME_LENGTH} characters`
  if (!TEMPLATE_NAME.test(name)) return `template name ${JSON.stringify(name)} must be a lowercase .yaml file name`
  return null
}

/**
 * Why `cid` cannot address a template (a CIDv1 with the BLAKE3 multihash, raw or dag-cbor) in a shape at
 * protocol level `level`, or null. Judged at apply and restore, so the level decides, never the build:
 * - below PROTOCOL_CANONICAL_CATALOG, exactly what every build before level 7 checks, byte for byte (the
 *   messages too). Its last check compares the text with `parsed.toString()`, which is the text itself for
 *   a `b…` CID (multiformats caches it): a mixed-case or `=`-padded spelling passes. Tightening it here would
 *   make this build reject a logged set-catalog that an older replica applied (divergence in a rolling upgrade);
 * - from level 7, the text must also be the fresh encoding of the CID's bytes (canonicalCidText).
 */
export function templateCidProblem (cid: unknown, level: number): string | null {
  if (typeof cid !== 'string' || cid.length > MAX_TEMPLATE_CID_LENGTH) return 'template cid is not a CID string'
  const parsed = parseCid(cid)
  if (parsed === null || parsed.version !== 1) return `template cid ${cid} is not a CIDv1`
  if (parsed.multihash.code !== BLAKE3_MULTIHASH_CODE) return `template cid ${cid} is not a BLAKE3 CID`
  if (parsed.code !== RAW_CODE && parsed.code !== DAG_CBOR_CODE) return `template cid ${cid} is neither raw nor dag-cbor`
  if (parsed.toString() !== cid) return `template cid ${cid} is not in its canonical string form`
  if (level >= PROTOCOL_CANONICAL_CATALOG) {
    const canonical = canonicalCidText(parsed)
    if (canonical !== cid) return `template cid ${cid} is not in its canonical string form (${canonical}; protocol level ${PROTOCOL_CANONICAL_CATALOG})`
  }
  return null
}

/** Why a role's template list is not valid in a shape at protocol level `level`, or null: bounded, unique names, valid CIDs. */
export function templatesProblem (templates: readonly CatalogTemplate[], level: number): string | null {
  if (templates.length > MAX_TEMPLATES_PER_ROLE) return `at most ${MAX_TEMPLATES_PER_ROLE} templates per role`
  const names = new Set<string>()
  for (const template of templates) {
    const problem = templateNameProblem(template.name) ?? templateCidProblem(template.cid, level)
    if (problem !== null) return problem
    if (names.has(template.name)) return `template name ${template.name} appears twice`
    names.add(template.name)
  }
  return null
}

/**
 * The templates with each CID in its canonical text (canonicalCidText), names and order kept: what the raise
 * to PROTOCOL_CANONICAL_CATALOG does to a catalog, the same on every replica. A CID that does not parse (none
 * can: the shape's invariants hold) is kept as it is.
 */
export function canonicalTemplateCids (templates: readonly CatalogTemplate[]): CatalogTemplate[] {
  return templates.map((t) => {
    const parsed = parseCid(t.cid)
    return { name: t.name, cid: parsed === null ? t.cid : canonicalCidText(parsed) }
  })
}

/** Parses a `set-catalog` command's fields from decoded CBOR; null when they are not exactly valid. */
export function parseCatalogTemplates (value: unknown): CatalogTemplate[] | null {
  if (!Array.isArray(value) || value.length > MAX_TEMPLATES_PER_ROLE) return null
  const templates: CatalogTemplate[] = []
  for (const item of value) {
    if (typeof item !== 'object' || item === null || Array.isArray(item) || item instanceof Uint8Array) return null
    const record = item as Record<string, unknown>
    if (Object.keys(record).length !== 2 || typeof record.name !== 'string' || typeof record.cid !== 'string') return null
    templates.push({ name: record.name, cid: record.cid })
  }
  return templates
}

/** The catalog in canonical order: roles in CONTROL_PLANE_ROLES order, templates sorted by name. */
export function canonicalCatalog (catalog: ReadonlyMap<ControlPlaneRole, readonly CatalogTemplate[]>): Array<[ControlPlaneRole, CatalogTemplate[]]> {
  const entries: Array<[ControlPlaneRole, CatalogTemplate[]]> = []
  for (const role of CONTROL_PLANE_ROLES) {
    const templates = catalog.get(role)
    if (templates === undefined || templates.length === 0) continue
    entries.push([role, [...templates].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0).map((t) => ({ name: t.name, cid: t.cid }))])
  }
  return entries
}
