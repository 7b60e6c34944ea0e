/**
 * A member id that is no libp2p peer id never reaches the redial round (net/redial.ts `addPeer`). The shape takes
 * any short string as a member id, so a key holder can commit `add-member` for one; every node then passes it to
 * `addPeer` with its configuration, and the round's `peerIdFromString` threw from a timer, which stops the
 * process (seen as an uncaught exception beside test/materializer/reconcile-work.test.ts, whose `peer-x` is such
 * an id). Method: a Redialer over a fake libp2p node, rounds run by hand.
 */
import { describe, expect, it } from 'vitest'
import { FakeNet, newPeerId, redialerOn } from './fake-redial-net.js'

describe('Redialer and ids that are no peer ids', () => {
  it('should leave out an id that is no peer id, keep running its rounds, and still track a real peer', async () => {
    const net = new FakeNet(await newPeerId())
    const { redialer, round } = await redialerOn(net)
    for (const bad of ['peer-x', 'Qm', '12D3KooW', 'x'.repeat(128)]) redialer.addPeer(bad)
    expect(redialer.size).toBe(0)
    await expect(round()).resolves.toBeUndefined()
    const peer = await newPeerId()
    redialer.addPeer(peer.toString())
    expect(redialer.size).toBe(1)
    await round()
    expect(net.dials).toEqual([peer.toString()])
    await redialer.stop()
  })
})
