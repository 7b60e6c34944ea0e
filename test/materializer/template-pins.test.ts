/**
 * The pins the committed role catalog puts on its templates go when no catalog names them any more (docs/
 * CONTENT.md §3 "Pinning and garbage collection"): any key holder can commit catalog after catalog, each naming
 * new templates, and every node that adds or fetches one pins it. Method: one in-process node holding the four
 * roles, the real content layer (a 512 KiB quota, no retention) and materializer; 12 catalogs of the scheduler
 * role committed in turn, each naming a new 96 KiB template added as `revoada catalog set` adds it, while the
 * controller-manager's catalog names one template throughout, and the operator pins (`content pin`) the third
 * scheduler template. After each commit, the pinned set must be exactly: the template named now, the
 * controller-manager's, and the operator's; gc then frees every other template, so the store stays within its
 * quota. The node is restarted and must come back with the same pinned set, whose catalog pins the next
 * catalog still releases.
 * Red before: every template stayed pinned for good, so gc freed nothing, and the sixth add hit the quota.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { MaterializerService } from '../../src/materializer/index.js'
import { parseRootCid } from '../../src/content/index.js'
import { ContentCluster } from '../content/helpers.js'
import type { ContentNode } from '../content/helpers.js'
import { waitFor } from '../node/helpers.js'

const cluster = new ContentCluster()
afterEach(async () => { await cluster.close() })

const TEMPLATE_BYTES = 96 * 1024
const CATALOGS = 12
const config = {
  raft: { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 },
  membership: { heartbeatIntervalMs: 200 },
  materializer: { reconcileIntervalMs: 3_600_000 },
  attestation: { enabled: false },
  content: { quotaBytes: 512 * 1024, retentionMs: 0, gcIntervalMs: 3_600_000 }
}

const materializerOf = (n: ContentNode): MaterializerService => n.services.find((s) => s.name === 'materializer') as MaterializerService

function template (name: string, i: number): Uint8Array {
  const header = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}-${i}\n# `
  return new TextEncoder().encode(header + 'x'.repeat(TEMPLATE_BYTES - header.length - 1) + '\n')
}

const pinnedSet = (n: ContentNode): string[] => n.content.list().filter((r) => r.pinned).map((r) => r.cid).sort()

async function commit (n: ContentNode, role: 'scheduler' | 'controller-manager', name: string, cid: string): Promise<void> {
  const result = await n.consensus.propose({ kind: 'set-catalog', role, templates: [{ name, cid }] }, 'operator')
  expect(result.result.outcome.kind).toBe('applied')
}

describe('template pins', () => {
  it('should release the pins of templates no committed catalog names, keep the named and the operator\'s, and let gc free the rest', async () => {
    let a = await cluster.add({ config })
    await waitFor(() => a.consensus.node.isLeader() && a.consensus.shapeMachine.shape.rolesOf(a.consensus.nodeId).length === 4, 30_000, 'the node leads and holds the four roles')
    const content = materializerOf(a).content()!
    const kept = await content.add(template('kube-controller-manager', 0))
    await commit(a, 'controller-manager', 'kube-controller-manager.yaml', kept)
    let operators: string | undefined
    const added: string[] = []
    for (let i = 0; i < CATALOGS; i++) {
      const cid = await content.add(template('kube-scheduler', i))
      added.push(cid)
      await commit(a, 'scheduler', 'kube-scheduler.yaml', cid)
      if (i === 2) {
        operators = cid
        await a.content.pin(parseRootCid(cid))
      }
      const expected = [...new Set([kept, cid, ...(operators !== undefined ? [operators] : [])])].sort()
      await waitFor(() => JSON.stringify(pinnedSet(a)) === JSON.stringify(expected), 10_000, `pinned: ${expected.length} after catalog ${i}`)
      // A round skips while a write runs (the release's own index write may still be in flight).
      const held = (): string => JSON.stringify(a.content.list().map((r) => r.cid).sort())
      await waitFor(async () => { await a.content.gc(); return held() === JSON.stringify(expected) }, 10_000, `gc left ${expected.length} after catalog ${i}`)
    }
    // Every template but the three kept is gone; the quota holds them.
    expect(a.content.status().usedBytes).toBeLessThanOrEqual(4 * TEMPLATE_BYTES)
    for (const cid of added.slice(0, -1)) if (cid !== operators) expect(a.content.record(parseRootCid(cid))).toBeUndefined()

    const before = pinnedSet(a)
    const dir = a.dir
    await cluster.stop(a)
    a = await cluster.add({ dir, config })
    await waitFor(() => a.consensus.node.isLeader(), 30_000, 'the node leads again')
    await materializerOf(a).reconcile()
    expect(pinnedSet(a)).toEqual(before)
    // The catalog's pins were kept as the catalog's across the restart: the next catalog releases the last.
    const next = await materializerOf(a).content()!.add(template('kube-scheduler', CATALOGS))
    await commit(a, 'scheduler', 'kube-scheduler.yaml', next)
    const after = [kept, next, operators!].sort()
    await waitFor(() => JSON.stringify(pinnedSet(a)) === JSON.stringify(after), 10_000, 'the last template released after the restart')
    // Unpinned by the operator, the template named now is pinned again by the catalog.
    await a.content.unpin(parseRootCid(next))
    await materializerOf(a).reconcile()
    await waitFor(() => pinnedSet(a).includes(next), 10_000, 'the template named now pinned again')
  }, 180_000)

  // The templates a `catalog set` adds are named by no applied catalog until its proposal commits: a full
  // reconcile meanwhile must keep their pins, and one after a proposal that never committed must release them.
  // A partial template record (a fetch that stalled) released by the catalog is dropped, not kept: nothing
  // wants it, and every start would resume it. Method: one node; `whileProposing` with a reconcile inside and
  // none committed; then a partial record pinned for the catalog, and a reconcile.
  it('should keep the pins of templates a catalog set is proposing, release them once it ends uncommitted, and drop a partial one', async () => {
    const a = await cluster.add({ config })
    await waitFor(() => a.consensus.node.isLeader(), 30_000, 'the node leads')
    const m = materializerOf(a)
    const content = m.content()!
    let cid = ''
    await m.whileProposing(async (hold) => {
      cid = await content.add(template('kube-scheduler', 100))
      hold(cid)
      await m.reconcile()
      expect(pinnedSet(a)).toEqual([cid])
    })
    await m.reconcile()
    expect(pinnedSet(a)).toEqual([])

    const partial = parseRootCid((await a.content.add(template('kube-scheduler', 101), { pin: 'catalog' })).cid)
    const store = (a.content as unknown as { store: { setRecord: (cid: unknown, patch: Record<string, unknown>) => Promise<unknown> } }).store
    const record = a.content.record(partial)!
    await store.setRecord(partial, { ...record, complete: false })
    await m.reconcile()
    expect(a.content.record(partial)).toBeUndefined()
  }, 120_000)
})
