/**
 * A role transition's hook is not lost when the node stops before it ran to its end (a restart, a rolling
 * upgrade): the next start runs it again; and a transition whose hooks all ran is not run again. Method: a
 * real in-process node (the creator, all four roles, the policy engine off) with an onPromote hook that fails
 * until a flag file exists; the node stops while the hook waits for its retry, the flag is set, the node
 * starts again on the same data dir, then once more.
 * Red before: the roles were recorded as acted on once the hooks were queued, so the restart saw no
 * transition and the onPromote hooks never succeeded.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../node/helpers.js'
import { startCreator } from './creator.js'
import type { StartedCreator } from './creator.js'

type Started = StartedCreator
const started: Started[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map(async (s) => { await s.node.stop().catch(() => {}) }))
})

async function start (dataDir: string, hook: string): Promise<Started> {
  return await startCreator(dataDir, (s) => { started.push(s) }, { hooks: { onPromote: hook, onDemote: hook } })
}

async function stop (s: Started): Promise<void> {
  started.splice(started.indexOf(s), 1)
  await s.node.stop()
}

const lines = async (file: string): Promise<string[]> => (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').sort()

describe('materializer hooks across a restart', () => {
  it('should run again at the next start a transition hook that had not run to its end, and not one that had', async () => {
    const dataDir = await tempDir('revoada-mathook-')
    const hookDir = await tempDir('revoada-mathook-h-')
    const attempts = path.join(hookDir, 'attempts.log')
    const done = path.join(hookDir, 'done.log')
    const flag = path.join(hookDir, 'ok')
    const hook = path.join(hookDir, 'hook.sh')
    await fs.writeFile(hook, `#!/bin/sh\necho "$HOOK $ROLE" >> ${attempts}\n[ -f ${flag} ] || exit 1\necho "$HOOK $ROLE" >> ${done}\n`, { mode: 0o755 })

    // The first run fails and waits (1 s) for its retry: the node stops then.
    const a = await start(dataDir, hook)
    await waitFor(async () => (await lines(attempts)).length >= 1, 20_000, 'a first, failed attempt')
    await stop(a)
    expect(await lines(done)).toEqual([])

    await fs.writeFile(flag, '')
    const b = await start(dataDir, hook)
    const promoted = ['onPromote api-server', 'onPromote controller-manager', 'onPromote etcd', 'onPromote scheduler']
    await waitFor(async () => (await lines(done)).length >= 4, 20_000, 'the four onPromote hooks run after the restart')
    expect(await lines(done)).toEqual(promoted)
    await waitFor(() => b.materializer.manifests().hooksPending === 0, 20_000, 'no hook waiting')
    await stop(b)

    // Every hook ran: a third start runs none.
    const c = await start(dataDir, hook)
    await waitFor(() => c.materializer.manifests().lastReconcile !== null, 20_000, 'a reconcile')
    await c.materializer.reconcile()
    // A queued run is pending until it ends, and leaves an event then: neither, so none was queued.
    expect(c.materializer.manifests().hooksPending).toBe(0)
    expect(c.materializer.manifests().events.filter((e) => e.kind.startsWith('hook-'))).toEqual([])
    expect(await lines(done)).toEqual(promoted)
  }, 120_000)
})
