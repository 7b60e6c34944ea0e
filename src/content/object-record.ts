/**
 * @module content/object-record
 * What the store index knows about one object, as written to disk and checked when read back. index.json and
 * its journal (docs/CONTENT.md §3) hold the same records, and both are read as any other input: a record on
 * disk may come from an older build, a hand edit or a damaged sector that kept its checksum.
 */
import { canonicalCidText, parseCid } from '../codec/index.js'
import type { CID } from '../codec/index.js'
import { InvalidCidError, isManifestCid } from './core/index.js'

/** What the index knows about one object. */
export interface ObjectRecord {
  cid: string
  type: 'file' | 'dir'
  size: number
  /** Every block below the root is held and verified. */
  complete: boolean
  pinned: boolean
  /**
   * The pin is the applied role catalog's alone (a template it names): released when no catalog names the
   * object any more (`ContentService.pinCatalog`). An operator's pin (`content pin`, `--pin`) clears it and
   * outlives every catalog. Invariant: only with `pinned`; absent otherwise (older records lack it: theirs are
   * the operator's).
   */
  catalog?: true
  addedAtMs: number
  lastUsedMs: number
}

/** Who asks for a pin: the operator (`true`, held until unpinned) or the role catalog (`'catalog'`). */
export type PinRequest = boolean | 'catalog'

/**
 * The pin fields of `record` once `pin` is asked on it: the operator's pin takes the object for good (the
 * catalog's mark goes), the catalog's pins it only when nothing did already; no pin changes nothing.
 */
export function pinFields (record: Pick<ObjectRecord, 'pinned' | 'catalog'> | undefined, pin: PinRequest | undefined): Pick<ObjectRecord, 'pinned' | 'catalog'> {
  // `catalog` is always set (undefined to clear it): the result is spread over a record.
  if (pin === true) return { pinned: true, catalog: undefined }
  if (pin === 'catalog' && record?.pinned !== true) return { pinned: true, catalog: true }
  const pinned = record?.pinned === true
  return { pinned, catalog: pinned && record?.catalog === true ? true : undefined }
}

/** Whether asking `pin` on `record` changes its pin fields (`pinFields`). */
export function pinChanges (record: Pick<ObjectRecord, 'pinned' | 'catalog'>, pin: PinRequest | undefined): boolean {
  const next = pinFields(record, pin)
  return next.pinned !== record.pinned || next.catalog !== (record.pinned && record.catalog === true ? true : undefined)
}

/**
 * A record read from disk, checked: a root (manifest) CID, a known type, a size that is a non-negative number
 * (clamped to a safe integer: an older build summed directory sizes past 2^53), booleans and times. Undefined
 * for anything else: a non-manifest CID would throw later, in code that announces every record without
 * expecting it.
 */
export function indexRecord (o: unknown): ObjectRecord | undefined {
  if (typeof o !== 'object' || o === null) return undefined
  const r = o as Record<string, unknown>
  if (!isRootCidText(r.cid)) return undefined
  if (r.type !== 'file' && r.type !== 'dir') return undefined
  if (typeof r.size !== 'number' || !(r.size >= 0)) return undefined
  if (typeof r.complete !== 'boolean' || typeof r.pinned !== 'boolean') return undefined
  if (!Number.isFinite(r.addedAtMs) || !Number.isFinite(r.lastUsedMs)) return undefined
  const size = Math.min(Number.MAX_SAFE_INTEGER, Math.floor(r.size))
  const catalog = r.pinned && r.catalog === true ? { catalog: true as const } : {}
  return { cid: r.cid, type: r.type, size, complete: r.complete, pinned: r.pinned, ...catalog, addedAtMs: r.addedAtMs as number, lastUsedMs: r.lastUsedMs as number }
}

/** Whether `text` is a root (manifest) CID in the one string form this build writes. */
export function isRootCidText (text: unknown): text is string {
  if (typeof text !== 'string') return false
  const cid = parseCid(text)
  // NB: against a fresh encoding (canonicalCidText), not `cid.toString()`, which returns the very text the CID
  // was parsed from: a mixed-case spelling (a flipped bit in index.json, which has no checksum) passed as
  // canonical, a second key for an object held under its own.
  return cid !== null && isManifestCid(cid) && canonicalCidText(cid) === text
}

/** Parses a root CID string. @throws InvalidCidError */
export function parseRootCid (text: string): CID {
  const cid = parseCid(text)
  if (cid === null || !isManifestCid(cid)) throw new InvalidCidError(`${text.slice(0, 100)} is not a BLAKE3 dag-cbor CIDv1 (a content root)`)
  return cid
}

/**
 * The fields of a record, and only those, in a fixed order: what index.json and a journal frame hold. A
 * record in memory may carry more (a caller's patch is spread into it), which must not reach the disk.
 */
export function recordFields (r: ObjectRecord): ObjectRecord {
  const catalog = r.pinned && r.catalog === true ? { catalog: true as const } : {}
  return { cid: r.cid, type: r.type, size: r.size, complete: r.complete, pinned: r.pinned, ...catalog, addedAtMs: r.addedAtMs, lastUsedMs: r.lastUsedMs }
}
