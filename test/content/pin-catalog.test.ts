/**
 * `ContentService.pinCatalog` changes only the pin of each record, as the record is when it gets to it: it walks
 * the records one index write at a time, and a fetch, a pin or an unpin may change a record meanwhile. Method:
 * one node; two records named by the catalog, unpinned, the second partial; while the first one's pin is being
 * written, the second completes (as its fetch would). Expected: the second is complete and pinned afterwards.
 * Red with the record spread from the list taken at the start: the second was written back partial.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseRootCid } from '../../src/content/index.js'
import type { ContentStore } from '../../src/content/store.js'
import { ContentCluster } from './helpers.js'

const cluster = new ContentCluster()
afterEach(async () => { await cluster.close() })

describe('content pins of the role catalog', () => {
  it('should change only the pin of a record that changed while pinCatalog ran', async () => {
    const a = await cluster.add()
    const store = (a.content as unknown as { store: ContentStore }).store
    const first = parseRootCid((await a.content.add(new TextEncoder().encode('kind: Pod\nname: first\n'))).cid)
    const second = parseRootCid((await a.content.add(new TextEncoder().encode('kind: Pod\nname: second\n'))).cid)
    // Listed after the first (by time added), and partial.
    await store.setRecord(second, { ...a.content.record(second)!, complete: false, addedAtMs: a.content.record(first)!.addedAtMs + 1 })
    const setRecord = store.setRecord.bind(store)
    vi.spyOn(store, 'setRecord').mockImplementation(async (cid, patch) => {
      const written = await setRecord(cid, patch)
      // The second completes while the first's pin is written.
      if (cid.equals(first)) await setRecord(second, { ...store.record(second)!, complete: true })
      return written
    })
    await a.content.pinCatalog(new Set([first.toString(), second.toString()]))
    expect(a.content.record(first)).toMatchObject({ pinned: true, catalog: true })
    expect(a.content.record(second)).toMatchObject({ complete: true, pinned: true, catalog: true })
  }, 60_000)
})
