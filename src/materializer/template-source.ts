/**
 * @module materializer/template-source
 * Where a role's templates come from (issue 15): the committed catalog when it names the role, else the
 * build's default catalog. A committed template is fetched by CID from the content layer once, checked
 * against the CID, and kept decoded (the catalog is small: at most 8 templates per role).
 */
import { parseCid, verifyCid } from '../codec/index.js'
import type { ControlPlaneRole, MeshShape } from '../consensus/shape/core/index.js'
import type { Template } from './default-catalog.js'
import { canonicalTemplateCid } from './template-cid.js'
import { ContentUnavailableError, TemplateCidMismatchError, TemplateUnavailableError } from './errors.js'
import { TEMPLATE_FETCH_TIMEOUT_MS } from './constants.js'

/** What the materializer needs of the content layer (issue 13): store bytes, fetch verified bytes by CID. */
export interface TemplateContent {
  add: (bytes: Uint8Array) => Promise<string>
  get: (cid: string, options?: { signal?: AbortSignal }) => Promise<Uint8Array>
}

export interface TemplateEntry {
  name: string
  cid: string
}

export class TemplateSource {
  /**
   * Template text by canonical CID text (canonicalTemplateCid): the defaults at construction, committed ones
   * once fetched and verified. Two spellings of one CID are one template: the raise to protocol level 7,
   * which rewrites a held spelling, fetches nothing again.
   */
  private readonly texts = new Map<string, string>()

  constructor (readonly defaults: ReadonlyMap<ControlPlaneRole, readonly Template[]>, private readonly content: () => TemplateContent | undefined) {
    for (const templates of defaults.values()) {
      for (const t of templates) this.texts.set(canonicalTemplateCid(t.cid), new TextDecoder().decode(t.bytes))
    }
  }

  /** The role's templates in effect: the committed ones, or the build's defaults. */
  entriesOf (shape: MeshShape, role: ControlPlaneRole): TemplateEntry[] {
    const committed = shape.templatesOf(role)
    if (committed.length > 0) return committed
    return (this.defaults.get(role) ?? []).map((t) => ({ name: t.name, cid: t.cid }))
  }

  /**
   * The template's text: built in, cached, or fetched from the content layer and checked against the CID.
   * @throws ContentUnavailableError, TemplateUnavailableError, TemplateCidMismatchError
   */
  async text (entry: TemplateEntry): Promise<string> {
    const key = canonicalTemplateCid(entry.cid)
    const cached = this.texts.get(key)
    if (cached !== undefined) return cached
    const content = this.content()
    if (content === undefined) throw new ContentUnavailableError()
    let bytes: Uint8Array
    try {
      bytes = await content.get(entry.cid, { signal: AbortSignal.timeout(TEMPLATE_FETCH_TIMEOUT_MS) })
    } catch (err) {
      throw new TemplateUnavailableError(entry.cid, (err as Error).message)
    }
    const cid = parseCid(entry.cid)
    // The content layer verifies every chunk; a raw CID is checked here once more, end to end.
    if (cid === null || (cid.code === 0x55 && !verifyCid(cid, bytes))) throw new TemplateCidMismatchError(entry.cid)
    const text = new TextDecoder().decode(bytes)
    this.texts.set(key, text)
    return text
  }
}
