/**
 * Stale targets do not keep the redial loop from the others. Every peer that ever connected stays a target, and
 * peers.json brings up to KNOWN_PEERS_MAX of them back at a restart, first in the table after the seeds. A round
 * dials at most 8 targets; it took the due ones in table order, so whenever more stale targets were due than a
 * round dials — 16 peers whose dials time out (20 s each, then up to 15 s of backoff) at the defaults, by a model of
 * the loop — the targets after them, the members met since the restart among them, were never dialled. Method: a Redialer over
 * a fake libp2p node whose dials are recorded, on a hand-moved clock, rounds run by hand (fake-redial-net.ts).
 */
import { describe, expect, it } from 'vitest'
import type { PeerId } from '@libp2p/interface'
import { FakeNet, NET, newPeerId, redialerOn } from './fake-redial-net.js'

async function peerIds (count: number): Promise<PeerId[]> {
  return await Promise.all(Array.from({ length: count }, async () => await newPeerId()))
}

/** Peers whose dials are refused at once, added as targets before anything else. */
async function staleTargets (net: FakeNet, count: number): Promise<PeerId[]> {
  const stale = await peerIds(count)
  for (const peer of stale) net.refusing.add(peer.toString())
  return stale
}

describe('Redialer with stale targets', () => {
  it('should dial the target due longest first, so stale targets due every round do not starve a newer one', async () => {
    let clockMs = 1_000_000
    const net = new FakeNet(await newPeerId())
    const stale = await staleTargets(net, 20)
    const { redialer, round } = await redialerOn(net, () => clockMs)
    for (const peer of stale) redialer.addPeer(peer.toString())
    // A member connects and its connection drops. Each round comes a redial interval after the last, by when
    // every refused target is due again (its backoff is at most NET.redialBackoffMaxMs).
    const newcomer = await newPeerId()
    net.connectFrom(newcomer)
    await round()
    net.connected.delete(newcomer.toString())
    net.attempts.length = 0
    for (let i = 0; i < 10; i++) {
      clockMs += NET.redialBackoffMaxMs
      await round()
    }
    expect(net.attempts.filter((peer) => peer === newcomer.toString()).length).toBeGreaterThan(0)
    // Every stale target is still tried in turn.
    expect(stale.every((peer) => net.attempts.includes(peer.toString()))).toBe(true)
    await redialer.stop()
  })
})
