/**
 * Adding again an object this store holds keeps its pin: `revoada content add DIR --pin`, then the same tree
 * added again without `--pin` (a script re-running an add, another operator) must not unpin it. A file kept
 * its pin so; a directory did not: its record was rewritten unpinned, and the next gc past the retention
 * deleted the tree the operator pinned. Method: a directory pinned, added again without a pin, then gc with
 * a retention of -1 ms (everything unpinned is past it).
 * Red before: the second add left the directory unpinned, and gc removed it and its file.
 */
import { describe, expect, it } from 'vitest'
import { ContentStore, parseRootCid } from '../../src/content/store.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'

describe('content add of an object held already', () => {
  it('should keep the pin of a directory added again without one, and gc should keep it', async () => {
    const store = await ContentStore.open({ dir: await tempDir('revoada-content-'), quotaBytes: 1 << 24, log: silentLogger(), nowMs: () => 1_000_000 })
    const file = await store.addFile((async function * () { yield new TextEncoder().encode('kind: Pod\n') })())
    const entries = [{ name: 'pod.yaml', cid: parseRootCid(file.cid) }]
    const dir = await store.addDir(entries, { pin: true })
    expect(dir.pinned).toBe(true)
    expect((await store.addDir(entries)).pinned).toBe(true)
    expect(store.record(dir.cid)?.pinned).toBe(true)
    expect((await store.gc(-1)).removedObjects).toBe(0)
    expect(store.record(file.cid)?.complete).toBe(true)
  })
})
