/**
 * A member removed from the cluster leaves every node's redial loop (consensus/removed-redials.ts →
 * Redialer.forget; docs/MEMBERSHIP.md, "Removed members are not redialled"). Before, nothing called `forget`:
 * the removed member stayed a redial target on every node for the life of the process, and came back from
 * `peers.json` on every restart (the file kept it: net/known-peers.ts now drops a forgotten peer). Method: three
 * in-process nodes; the leader removes b, which keeps running (in process its stop request stops nothing), so it
 * connects again; c's peers.json no longer lists b; then c restarts on its data dir with b written back into
 * peers.json (a file from before the change), and forgets it again after replaying its log.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { FAST, startCluster, startMember, stopAll, waitFor } from './helpers.js'
import type { Member } from './helpers.js'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { KEEP_ALIVE_CLUSTER_TAG, KNOWN_PEERS_FILE_NAME } from '../../../src/net/constants.js'

/** A snapshot after every entry: c restarts from a snapshot that holds b's removal, so no apply replays it. */
const SNAPSHOT_EVERY_ENTRY = { raft: { ...FAST.raft, snapshotEveryEntries: 1 } }

describe('removed members and the redial loop', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should stop redialling a removed member on every node, not take it back when it connects, nor after a restart', async () => {
    members = await startCluster(3, { extra: SNAPSHOT_EVERY_ENTRY })
    const [a, b, c] = members as [Member, Member, Member]
    const removed = b.node.nodeId
    const removedId = peerIdFromString(removed)
    const tagged = async (m: Member): Promise<boolean> => await m.node.net.peerStore.get(removedId).then((p) => p.tags.has(KEEP_ALIVE_CLUSTER_TAG), () => false)
    // The keep-alive tag is on whichever end dialled (the unit test, test/net/redial-forget.test.ts, checks its removal).
    await waitFor(() => a.node.redialer.tracks(removed) && c.node.redialer.tracks(removed), 60_000, 'b a redial target of a and c')

    const result = await a.consensus.removeMember(removed)
    expect(result.result.outcome.kind).toBe('applied')
    await waitFor(() => c.consensus.shapeMachine.shape.wasRemoved(removed), 60_000, 'c applied b\'s removal')
    await waitFor(async () => !a.node.redialer.tracks(removed) && !c.node.redialer.tracks(removed) && !await tagged(a) && !await tagged(c), 20_000, 'b forgotten by a and c')

    // b dials in again (a removed node that has not stopped; b, now outside its own configuration, redials
    // only what a joiner keeps, so the test dials for it): c does not take it back.
    const cId = peerIdFromString(c.node.nodeId)
    await Promise.all([c.node.net.hangUp(removedId), b.node.net.hangUp(cId)])
    await b.node.net.dial(c.node.net.getMultiaddrs(), { signal: AbortSignal.timeout(20_000) })
    await waitFor(() => c.node.net.getConnections(removedId).length > 0, 60_000, 'b connected to c again')
    expect(c.node.redialer.tracks(removed)).toBe(false)
    expect(await tagged(c)).toBe(false)

    // c stops: its peers.json lost b when c forgot it, and b's identify on connecting again did not bring it back.
    await c.node.stop()
    const peersFile = path.join(c.dir, KNOWN_PEERS_FILE_NAME)
    const known = async (): Promise<Record<string, string[]>> => JSON.parse(await readFile(peersFile, 'utf8')) as Record<string, string[]>
    expect(Object.keys(await known())).not.toContain(removed)
    expect(Object.keys(await known())).toContain(a.node.nodeId)
    // c restarts with b back in its peers.json (as one written before removed members left it), and the removal
    // comes back with its snapshot: b is no target, and leaves the file again. Its addresses are written as
    // identify records them (no /p2p/ suffix).
    const bAddrs = b.node.net.getMultiaddrs().map((ma) => ma.toString().replace(/\/p2p\/[^/]+$/, ''))
    await writeFile(peersFile, JSON.stringify({ ...await known(), [removed]: bAddrs }))
    members = members.filter((m) => m !== c)
    const restarted = await startMember(c.dir, { extra: SNAPSHOT_EVERY_ENTRY })
    members.push(restarted)
    expect(restarted.consensus.shapeMachine.shape.wasRemoved(removed)).toBe(true)
    expect(restarted.node.redialer.tracks(removed)).toBe(false)
    expect(restarted.node.redialer.tracks(a.node.nodeId)).toBe(true)
    await waitFor(async () => !Object.keys(await known()).includes(removed), 10_000, 'b gone from the restarted c\'s peers.json')
  }, 240_000)
})
