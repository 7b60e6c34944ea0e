/**
 * @module materializer/template-source
 * Where a role's templates come from (issue 15): the committed catalog when it names the role, else the
 * build's default catalog. A committed template is fetched by CID from the content layer once, checked
 * against the CID, and kept decoded (the catalog is small: at most 8 templates per role).
 *
 * A fetch is bounded (TEMPLATE_FETCH_TIMEOUT_MS, TEMPLATE_BYTES_MAX: any key holder can commit a catalog
 * naming any CID), and a reconcile waits for it only TEMPLATE_FETCH_WAIT_MS: a fetch still running then goes
 * on without it, the reconcile writes and removes the other manifests, and the template's arrival is told
 * (`onArrived`) so that a reconcile renders it.
 */
import { parseCid, verifyCid } from '../codec/index.js'
import type { ControlPlaneRole, MeshShape } from '../consensus/shape/core/index.js'
import type { Template } from './default-catalog.js'
import { canonicalTemplateCid } from './template-cid.js'
import { ContentUnavailableError, TemplateCidMismatchError, TemplatePendingError, TemplateUnavailableError } from './errors.js'
import { TEMPLATE_FETCH_TIMEOUT_MS, TEMPLATE_FETCH_WAIT_MS, TEMPLATE_TEXTS_MAX } from './constants.js'
import { TEMPLATE_BYTES_MAX } from './core/index.js'
import { deadline } from '../util/deadline.js'

/** What the materializer needs of the content layer (issue 13): store bytes, fetch verified bytes by CID. */
export interface TemplateContent {
  add: (bytes: Uint8Array) => Promise<string>
  /**
   * The bytes `cid` names. Ends when `signal` aborts; an implementation refuses an object over TEMPLATE_BYTES_MAX
   * as soon as it knows its size, and a directory as soon as it knows its kind, keeping (pinning) nothing of it
   * (the content layer does: `maxBytes`, `filesOnly`).
   */
  get: (cid: string, options?: { signal?: AbortSignal }) => Promise<Uint8Array>
  /**
   * Makes the pins `add` and `get` put on templates those of `named` (canonical CID texts): the pins of
   * templates no applied catalog names any more are released, so that gc can free them; an operator's pin
   * stays (the content layer's `pinCatalog`). @default none: pins are never released
   */
  pinCatalog?: (named: ReadonlySet<string>) => Promise<void>
}

export interface TemplateSourceInit {
  /** A fetch that outlived the reconcile waiting for it delivered its template. @default nothing */
  onArrived?: () => void
  /** Such a fetch failed (nobody waits for its error any more). @default nothing */
  onFailed?: (cid: string, err: Error) => void
  /** @default TEMPLATE_FETCH_WAIT_MS */
  waitMs?: number
  /** @default TEMPLATE_FETCH_TIMEOUT_MS */
  timeoutMs?: number
}

/** A fetch of one template, running. */
interface Attempt {
  promise: Promise<string>
  /** A reconcile stopped waiting for it: its outcome is told through `onArrived` / `onFailed`. */
  outlived: boolean
}

export interface TemplateEntry {
  name: string
  cid: string
}

export class TemplateSource {
  /**
   * Template text by canonical CID text (canonicalTemplateCid): the build's defaults, kept for good. Two
   * spellings of one CID are one template: the raise to protocol level 7, which rewrites a held spelling,
   * fetches nothing again.
   */
  private readonly texts = new Map<string, string>()
  /**
   * Committed templates' texts once fetched and verified, by canonical CID text, least recently used first.
   * Invariant: at most TEMPLATE_TEXTS_MAX entries.
   */
  private readonly fetched = new Map<string, string>()
  /** Fetches running, by canonical CID text: one per template, whatever the reconciles that ask for it. */
  private readonly attempts = new Map<string, Attempt>()
  /** Ends every running fetch (`close`). */
  private readonly closed = new AbortController()

  constructor (
    readonly defaults: ReadonlyMap<ControlPlaneRole, readonly Template[]>,
    private readonly content: () => TemplateContent | undefined,
    private readonly init: TemplateSourceInit = {}
  ) {
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
   * The template's text: built in, cached, or fetched from the content layer and checked against the CID. A
   * fetch not done within the wait goes on (TemplatePendingError now; `onArrived` or `onFailed` later).
   * @throws ContentUnavailableError, TemplateUnavailableError, TemplateCidMismatchError, TemplatePendingError
   */
  async text (entry: TemplateEntry): Promise<string> {
    const key = canonicalTemplateCid(entry.cid)
    const cached = this.texts.get(key) ?? this.fetched.get(key)
    if (cached !== undefined) {
      if (this.fetched.delete(key)) this.fetched.set(key, cached)
      return cached
    }
    const attempt = this.attempts.get(key) ?? this.startAttempt(entry, key)
    const waitMs = this.init.waitMs ?? TEMPLATE_FETCH_WAIT_MS
    let timer: NodeJS.Timeout | undefined
    const waited = new Promise<undefined>((resolve) => { timer = setTimeout(() => { resolve(undefined) }, waitMs) })
    try {
      const text = await Promise.race([attempt.promise, waited])
      if (text !== undefined) return text
    } finally {
      clearTimeout(timer)
    }
    attempt.outlived = true
    // Settled between the wait's end and now, with nobody told (it was not outlived yet): answered here.
    if (this.attempts.get(key) !== attempt) return await attempt.promise
    throw new TemplatePendingError(entry.cid, waitMs)
  }

  /** Committed templates' texts kept now (at most TEMPLATE_TEXTS_MAX). */
  get fetchedTexts (): number {
    return this.fetched.size
  }

  /** Keeps a fetched text as the most recently used, dropping the least recently used beyond the bound. */
  private keep (key: string, text: string): void {
    this.fetched.delete(key)
    this.fetched.set(key, text)
    for (const oldest of this.fetched.keys()) {
      if (this.fetched.size <= TEMPLATE_TEXTS_MAX) break
      this.fetched.delete(oldest)
    }
  }

  /** Ends every running fetch (the node is stopping); nothing is told of them afterwards. */
  close (): void {
    this.closed.abort(new Error('the materializer is stopping'))
  }

  /** Starts fetching `entry` (bounded by the timeout); its outcome is told once a reconcile stopped waiting. */
  private startAttempt (entry: TemplateEntry, key: string): Attempt {
    const content = this.content()
    if (content === undefined) throw new ContentUnavailableError()
    const attempt: Attempt = { promise: this.fetchText(content, entry, key), outlived: false }
    this.attempts.set(key, attempt)
    // Gone from `attempts` before anyone is told: the next reconcile finds the text, or starts a new attempt.
    const settled = (): boolean => {
      if (this.attempts.get(key) === attempt) this.attempts.delete(key)
      return attempt.outlived && !this.closed.signal.aborted
    }
    attempt.promise.then(() => {
      if (settled()) this.init.onArrived?.()
    }, (err: unknown) => {
      if (settled()) this.init.onFailed?.(entry.cid, err as Error)
    })
    return attempt
  }

  private async fetchText (content: TemplateContent, entry: TemplateEntry, key: string): Promise<string> {
    const limit = deadline(this.init.timeoutMs ?? TEMPLATE_FETCH_TIMEOUT_MS, this.closed.signal)
    try {
      let bytes: Uint8Array
      try {
        bytes = await content.get(entry.cid, { signal: limit.signal })
      } catch (err) {
        throw new TemplateUnavailableError(entry.cid, (err as Error).message)
      }
      // The content layer refuses larger objects before fetching them; another `TemplateContent` may not.
      if (bytes.length > TEMPLATE_BYTES_MAX) throw new TemplateUnavailableError(entry.cid, `${bytes.length} bytes, over the template limit of ${TEMPLATE_BYTES_MAX}`)
      const cid = parseCid(entry.cid)
      // The content layer verifies every chunk; a raw CID is checked here once more, end to end.
      if (cid === null || (cid.code === 0x55 && !verifyCid(cid, bytes))) throw new TemplateCidMismatchError(entry.cid)
      const text = new TextDecoder().decode(bytes)
      this.keep(key, text)
      return text
    } finally {
      limit.clear()
    }
  }
}
