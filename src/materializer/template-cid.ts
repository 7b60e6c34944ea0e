/**
 * @module materializer/template-cid
 * A template is named by its CID, not by the text of it: below protocol level 7 a catalog may hold a
 * mixed-case or `=`-padded spelling, which the raise to 7 rewrites to the canonical text
 * (consensus/shape/core/catalog.ts). The materializer compares and records templates so that the rewrite
 * changes nothing it renders (docs/MATERIALIZER.md).
 */
import { canonicalCidText, parseCid } from '../codec/index.js'

/**
 * Whether two CID texts name the same template. Not a text comparison: the raise to protocol level 7 rewrites
 * a catalog's mixed-case or padded spelling to its canonical text (consensus/shape/core/catalog.ts), and an
 * etcd manifest rendered from the old spelling must stay kept — re-rendering it would restart etcd on every
 * holder at once.
 */
export function sameTemplateCid (a: string, b: string): boolean {
  if (a === b) return true
  const left = parseCid(a)
  const right = parseCid(b)
  return left !== null && right !== null && left.equals(right)
}

/** canonicalTemplateCid's answers by text: a node sees a handful of template CIDs (at most 8 per role). */
const canonicalTexts = new Map<string, string>()
const CANONICAL_TEXTS_MAX = 256

/**
 * The canonical text (canonicalCidText) of the template CID `text` spells, or `text` itself when it is not a
 * CID. What a manifest's header names and what the materializer records and compares a template by, so that
 * the raise to protocol level 7, which rewrites a held mixed-case or padded spelling to this text, changes
 * neither the rendered bytes nor anything the materializer keys on (docs/MATERIALIZER.md). A text that does
 * not parse never renders a manifest: committed catalogs hold parsed CIDv1 BLAKE3 only, the defaults are
 * computed, and the template source refuses to fetch one (TemplateCidMismatchError); it is kept as it is so
 * that this function is total and compares only equal to itself.
 */
export function canonicalTemplateCid (text: string): string {
  const known = canonicalTexts.get(text)
  if (known !== undefined) return known
  const cid = parseCid(text)
  const canonical = cid === null ? text : canonicalCidText(cid)
  if (canonicalTexts.size >= CANONICAL_TEXTS_MAX) canonicalTexts.clear()
  canonicalTexts.set(text, canonical)
  return canonical
}
