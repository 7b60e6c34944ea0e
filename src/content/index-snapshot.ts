/**
 * @module content/index-snapshot
 * index.json, the snapshot of the store index (docs/CONTENT.md §3): `{"version":1, "journal":<id>,
 * "journalFolded":<id>, "objects":[<record>…]}`. `journal` names the journal that extends this snapshot;
 * `journalFolded` the one whose every frame it holds already (so that journal, found beside it after a crash
 * between the two steps of a fold, is not replayed twice, and is not set aside as another history either).
 * Both are absent in an index.json from a build before the journal, which opens unchanged. Still version 1: a
 * build before the journal ignores the two fields and reads the records (it misses only the journal's).
 */
import { OBJECTS_MAX } from './core/index.js'
import { JOURNAL_ID } from './index-frame.js'
import { indexRecord, recordFields } from './object-record.js'
import type { ObjectRecord } from './object-record.js'

export const SNAPSHOT_VERSION = 1

export interface JournalIds {
  /** The journal that extends this snapshot. */
  journal?: string
  /** The journal whose every frame this snapshot holds. */
  journalFolded?: string
}

export interface Snapshot extends JournalIds {
  /** The valid records, at most OBJECTS_MAX. */
  records: ObjectRecord[]
  /** The records that failed `indexRecord`, skipped. */
  skipped: unknown[]
}

/** Parses index.json. @throws Error when it is not a snapshot of this version at all (the caller sets it aside) */
export function parseSnapshot (text: string): Snapshot {
  const body = JSON.parse(text) as Record<string, unknown> | null
  if (typeof body !== 'object' || body === null) throw new Error('index is not a JSON object')
  if (body.version !== SNAPSHOT_VERSION || !Array.isArray(body.objects)) throw new Error(`unsupported index version ${String(body.version)}`)
  const ids: JournalIds = {}
  for (const key of ['journal', 'journalFolded'] as const) {
    const id = body[key]
    if (id === undefined) continue
    if (typeof id !== 'string' || !JOURNAL_ID.test(id)) throw new Error(`index field ${key} is not a journal id`)
    ids[key] = id
  }
  const snapshot: Snapshot = { ...ids, records: [], skipped: [] }
  for (const o of (body.objects as unknown[]).slice(0, OBJECTS_MAX)) {
    const record = indexRecord(o)
    if (record === undefined) snapshot.skipped.push(o)
    else snapshot.records.push(record)
  }
  return snapshot
}

/** index.json's text: the records sorted by when they were added, then CID, so equal indexes are equal files. */
export function snapshotText (records: Iterable<ObjectRecord>, ids: JournalIds): string {
  const objects = [...records].sort((a, b) => a.addedAtMs - b.addedAtMs || (a.cid < b.cid ? -1 : 1)).map(recordFields)
  return JSON.stringify({ version: SNAPSHOT_VERSION, ...ids, objects })
}
