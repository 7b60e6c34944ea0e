/**
 * A peer that stops being a member, or that membership judges dead, leaving or removed, stops being a content
 * provider at once, not when its entries expire 90 s after its last announcement (an audit found
 * `ProviderTable.forgetPeer` was never called, so fetches were still scheduled to such a peer). Method: the
 * glue from consensus and membership with fake sources; the service with a fake watcher (a peer judged dead
 * and back, a peer that leaves the configuration and comes back, a peer forgotten while a fetch waits for its
 * answers, chunks or the manifest); and a real removal through Raft in an in-process cluster wired as the default stack is, after
 * which a fetch dials only the remaining provider.
 */
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CHUNK_BYTES, CONTENT_PROTOCOL, REQUEST_TIMEOUT_MS } from '../../src/content/core/index.js'
import { peerWatch } from '../../src/content/index.js'
import type { PeerWatcher } from '../../src/content/index.js'
import { ContentCluster } from './helpers.js'
import type { ContentNode } from './helpers.js'
import { waitFor } from '../node/helpers.js'

let cluster = new ContentCluster()

afterEach(async () => {
  await cluster.close()
  cluster = new ContentCluster()
})

function providerIds (node: ContentNode, cid: Parameters<ContentNode['content']['providers']>[0]): string[] {
  return node.content.providers(cid).map((p) => p.peer)
}

describe('content peerWatch', () => {
  it('should pass on every state change and the dead, left and removed verdicts, and nothing once unsubscribed', () => {
    const stateListeners = new Set<() => void>()
    const eventListeners = new Set<(events: Array<{ kind: string, nodeId: string }>) => void>()
    const watch = peerWatch({
      onStateChange: (l) => { stateListeners.add(l); return () => stateListeners.delete(l) },
      onMembershipEvents: (l) => { eventListeners.add(l); return () => eventListeners.delete(l) }
    })
    const heard: string[] = []
    const unwatch = watch({ configurationChanged: () => heard.push('conf'), peerGone: (peer, kind) => heard.push(`${kind}:${peer}`) })
    for (const l of stateListeners) l()
    const kinds = ['joined', 'suspect', 'dead', 'recovered', 'left', 'removed']
    for (const l of eventListeners) l(kinds.map((kind, i) => ({ kind, nodeId: `p${i}` })))
    expect(heard).toEqual(['conf', 'dead:p2', 'left:p4', 'removed:p5'])
    unwatch()
    expect([stateListeners.size, eventListeners.size]).toEqual([0, 0])
  })
})

describe('content providers forgotten', { timeout: 240_000 }, () => {
  it('should forget a provider judged dead at once, and record it again at its next have', async () => {
    let watcher: PeerWatcher | undefined
    let refused = ''
    // c's watcher is a fake the test drives; c takes every peer but `refused` as a member.
    const [a, c] = await cluster.start(2, [{}, { watchPeers: (w) => { watcher = w; return () => { watcher = undefined } }, isMember: (p) => p !== refused }])
    const bytes = randomBytes(1000)
    const cid = (await a!.content.add(bytes)).cidObject
    await waitFor(() => providerIds(c!, cid).includes(a!.node.nodeId), 30_000, 'a known as a provider')
    watcher!.peerGone(a!.node.nodeId, 'dead')
    expect(providerIds(c!, cid)).toEqual([])
    expect(c!.content.status().providersForgotten).toBe(1)
    // Back: its next have (it announces on add, on a want and every 30 s) records it again.
    await a!.content.add(bytes)
    await waitFor(() => providerIds(c!, cid).includes(a!.node.nodeId), 30_000, 'a known again after its next have')
    // Out of the configuration: forgotten when it changes, and its announcements refused until it is a member again.
    refused = a!.node.nodeId
    watcher!.configurationChanged()
    expect(providerIds(c!, cid)).toEqual([])
    refused = ''
    await a!.content.add(bytes)
    await waitFor(() => providerIds(c!, cid).includes(a!.node.nodeId), 30_000, 'a known again as a member')
    expect(c!.content.status().providersForgotten).toBe(2)
  })

  it('should forget a provider removed from the configuration at once, and not ask it in a later fetch', async () => {
    const [a, b, c] = await cluster.start(3)
    const bytes = randomBytes(4 * CHUNK_BYTES)
    const cid = (await a!.content.add(bytes)).cidObject
    await b!.content.add(bytes)
    await waitFor(() => providerIds(c!, cid).length === 2, 60_000, 'a and b known as providers')
    const removed = b!.node.nodeId
    await a!.consensus.removeMember(removed)
    const inConfiguration = (n: ContentNode): string[] => [...n.node.status().voters as string[], ...n.node.status().learners as string[]]
    await waitFor(() => !inConfiguration(c!).includes(removed), 60_000, 'b out of c\'s configuration')
    // Without forgetting, b's entry lives on for 60–90 s more (its last have, at most 30 s old, plus 90 s).
    await waitFor(() => !providerIds(c!, cid).includes(removed), 20_000, 'b forgotten as a provider')
    expect(providerIds(c!, cid)).toEqual([a!.node.nodeId])
    const dial = vi.spyOn(c!.node.net, 'dialProtocol')
    expect(Buffer.from(await c!.content.get(cid)).equals(bytes)).toBe(true)
    const asked = dial.mock.calls.filter((call) => call[1] === CONTENT_PROTOCOL).map((call) => String(call[0]))
    expect(asked).toContain(a!.node.nodeId)
    expect(asked).not.toContain(removed)
  })

  it('should drop a running fetch\'s worker for a provider forgotten meanwhile, finish from another, and leave its score alone', async () => {
    // s holds every chunk answer back for 10 minutes (TEST ONLY serve delay). A fetch used to keep its worker
    // for a forgotten provider until the stream ended: here until its requests timed out (30 s), which then
    // cost s a failure (−5) although being forgotten is no fault. c's watcher and membership are fakes.
    let watcher: PeerWatcher | undefined
    let refused = ''
    const [a, s, c] = await cluster.start(3, [
      {}, { testOnlyServeDelayMs: 600_000 }, { watchPeers: (w) => { watcher = w; return () => { watcher = undefined } }, isMember: (p) => p !== refused }
    ])
    const sId = s!.node.nodeId
    const bytes = randomBytes(6 * CHUNK_BYTES)
    const cid = (await s!.content.add(bytes)).cidObject
    await waitFor(() => providerIds(c!, cid).includes(sId), 60_000, 's known as a provider')
    const fetching = c!.content.get(cid)
    const server = (n: ContentNode): { delayedAnswers: number, connectionStreams: number } => n.content.status().server as { delayedAnswers: number, connectionStreams: number }
    await waitFor(() => server(s!).delayedAnswers >= 1, 60_000, 'c asked s for a chunk')
    expect(c!.content.progress(cid)?.providers).toEqual([sId])
    // s leaves the configuration: c forgets it, and refuses its announcements (answers to c's wants) meanwhile.
    refused = sId
    watcher!.configurationChanged()
    expect(c!.content.status().providersForgotten).toBe(1)
    await waitFor(() => c!.content.progress(cid)?.providers.includes(sId) === false, 60_000, 's\'s worker ended')
    await waitFor(() => server(s!).connectionStreams === 0, 60_000, 'c\'s stream to s reset')
    const askedOfS = server(s!).delayedAnswers
    // Only now does an honest provider appear: every chunk, those s held included, comes from it.
    await a!.content.add(bytes)
    expect(Buffer.from(await fetching).equals(bytes)).toBe(true)
    expect(c!.content.progress(cid)?.chunksByProvider).toEqual({ [a!.node.nodeId]: 6 })
    expect(server(s!).delayedAnswers).toBe(askedOfS)
    // A member again, s is recorded at its next have, with its score untouched.
    refused = ''
    await s!.content.add(bytes)
    await waitFor(() => providerIds(c!, cid).includes(sId), 30_000, 's known again as a member')
    expect(c!.content.providers(cid).find((p) => p.peer === sId)?.score).toBe(0)
  })

  it('should cancel a manifest request open to a provider forgotten meanwhile, ask the next one, and leave its score alone', async () => {
    // s reads every request and never answers, manifests included. A forgotten provider's chunk worker ended at
    // once, but its manifest request stayed open until its timeout (30 s), which then cost s a failure (−5);
    // with another provider known, that one was asked only after the 2 s hedge. c's watcher and membership are fakes.
    let watcher: PeerWatcher | undefined
    let refused = ''
    const [a, s, c] = await cluster.start(3, [
      {}, {}, { watchPeers: (w) => { watcher = w; return () => { watcher = undefined } }, isMember: (p) => p !== refused }
    ])
    const sId = s!.node.nodeId
    const bytes = randomBytes(2 * CHUNK_BYTES)
    const cid = (await s!.content.add(bytes)).cidObject
    await waitFor(() => providerIds(c!, cid).includes(sId), 60_000, 's known as a provider')
    let asked = 0
    let ended = 0
    await s!.node.net.unhandle(CONTENT_PROTOCOL)
    await s!.node.net.handle(CONTENT_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      try { for (;;) { await lp.read(); asked++ } } catch { ended++ }
    })
    const fetching = c!.content.get(cid)
    await waitFor(() => asked === 1, 60_000, 'c asked s for the manifest')
    expect(c!.content.progress(cid)?.state).toBe('manifest')
    // s leaves the configuration: c forgets it, and refuses its announcements (answers to c's wants) meanwhile.
    refused = sId
    watcher!.configurationChanged()
    expect(c!.content.status().providersForgotten).toBe(1)
    // Well within the request timeout: only the cancel ends the request that soon.
    await waitFor(() => ended === 1, REQUEST_TIMEOUT_MS / 3, 'c\'s manifest request to s reset')
    await waitFor(() => c!.content.progress(cid)?.state === 'waiting-for-providers', REQUEST_TIMEOUT_MS / 3, 'c waits for another provider')
    // Only now does another provider appear: it is asked at once, and carries the whole fetch.
    await a!.content.add(bytes)
    expect(Buffer.from(await fetching).equals(bytes)).toBe(true)
    expect(c!.content.progress(cid)?.chunksByProvider).toEqual({ [a!.node.nodeId]: 2 })
    expect(asked).toBe(1)
    // No failure counted against s (status lists every provider with a score below 0).
    expect((c!.content.status().scores as Array<{ peer: string }>).map((p) => p.peer)).not.toContain(sId)
  })
})
