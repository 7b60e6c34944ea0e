/**
 * A member removed from the cluster leaves the redial loop for good (net/redial.ts `forget`): before, `forget`
 * existed but nothing called it, and `addPeer` — on every connection, heartbeat and configuration pass — would
 * have put the peer back anyway. Method: a Redialer over a fake libp2p node whose dials and keep-alive tags are
 * recorded; rounds are run by hand through a fake ticker. The wiring from consensus is in
 * test/consensus/cluster/removed-redial.test.ts; what `onForget` does to peers.json, in
 * test/net/known-peers-forget.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { FakeNet, newPeerId, redialerOn } from './fake-redial-net.js'

describe('Redialer.forget', () => {
  it('should stop dialling a removed peer, untag it, and not take it back when it connects or is added again', async () => {
    const net = new FakeNet(await newPeerId())
    const kept = await newPeerId()
    const removed = await newPeerId()
    const { redialer, round } = await redialerOn(net)
    redialer.addPeer(kept.toString())
    redialer.addPeer(removed.toString())
    await round()
    expect(net.dials.sort()).toEqual([kept.toString(), removed.toString()].sort())
    expect(net.tagged.has(removed.toString())).toBe(true)

    redialer.forget(removed.toString())
    expect(redialer.tracks(removed.toString())).toBe(false)
    expect(redialer.tracks(kept.toString())).toBe(true)
    await round()
    expect(net.tagged.has(removed.toString())).toBe(false)
    expect(net.tagged.has(kept.toString())).toBe(true)

    // Its connection closes; it dials in again, and membership or links would add it again: nothing does.
    net.connected.clear()
    net.dials.length = 0
    net.connectFrom(removed)
    redialer.addPeer(removed.toString())
    net.connected.clear()
    await round()
    expect(net.dials).toEqual([kept.toString()])
    expect(redialer.tracks(removed.toString())).toBe(false)
    await redialer.stop()
  })

  it('should drop a seed address that was, or turns out to be, a removed peer', async () => {
    const net = new FakeNet(await newPeerId())
    const seedPeer = await newPeerId()
    const laterSeedPeer = await newPeerId()
    net.addressOf.set('/ip4/10.0.0.1/tcp/4001', seedPeer)
    net.addressOf.set('/ip4/10.0.0.2/tcp/4001', laterSeedPeer)
    const { redialer, round } = await redialerOn(net)
    redialer.addAddress('/ip4/10.0.0.1/tcp/4001')
    await round()
    expect(redialer.seedPeers()).toEqual([seedPeer.toString()])
    // Forgotten after the seed resolved: the address target goes with it.
    redialer.forget(seedPeer.toString())
    expect(redialer.seedPeers()).toEqual([])
    expect(redialer.size).toBe(0)
    // Forgotten before the seed resolved: dropped when its dial says who it is, and left untagged.
    redialer.forget(laterSeedPeer.toString())
    redialer.addAddress('/ip4/10.0.0.2/tcp/4001')
    expect(redialer.size).toBe(1)
    await round()
    expect(redialer.size).toBe(0)
    expect(net.tagged.has(laterSeedPeer.toString())).toBe(false)
    net.connected.clear()
    net.dials.length = 0
    await round()
    expect(net.dials).toEqual([])
    await redialer.stop()
  })

  it('should tell onForget listeners once per newly forgotten peer, and no longer once unsubscribed', async () => {
    const self = await newPeerId()
    const net = new FakeNet(self)
    const removed = await newPeerId()
    const later = await newPeerId()
    const { redialer } = await redialerOn(net)
    const heard: string[] = []
    const unsubscribe = redialer.onForget((peer) => { heard.push(peer) })
    expect(redialer.isForgotten(removed.toString())).toBe(false)
    // Never a target: still forgotten and told (known-peers.ts may list a peer the redialer never tracked).
    redialer.forget(removed.toString())
    redialer.forget(removed.toString())
    redialer.forget(self.toString())
    expect(heard).toEqual([removed.toString()])
    expect(redialer.isForgotten(removed.toString())).toBe(true)
    expect(redialer.isForgotten(self.toString())).toBe(false)
    unsubscribe()
    redialer.forget(later.toString())
    expect(heard).toEqual([removed.toString()])
    expect(redialer.isForgotten(later.toString())).toBe(true)
    await redialer.stop()
  })

  it('should ignore its own id', async () => {
    const self = await newPeerId()
    const net = new FakeNet(self)
    const { redialer } = await redialerOn(net)
    redialer.forget(self.toString())
    redialer.addPeer(self.toString())
    expect(redialer.size).toBe(0)
    await redialer.stop()
  })
})
