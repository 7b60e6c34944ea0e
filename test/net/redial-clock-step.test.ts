/**
 * A wall-clock step back does not stall redials (issue 9 item 7): the Redialer measures a failed dial's
 * backoff on the steady clock (src/util/clock.ts). On the raw wall clock a step back of an hour held every
 * peer that had failed a dial for an hour more. Method: a Redialer over a fake libp2p node that refuses one
 * peer; after its first refused dial the wall clock is stepped back an hour; once the longest backoff it can
 * have drawn has passed on the steady clock, a round run by hand dials it again. The wall clock is `Date.now`
 * spied on before the Redialer is made (a default clock is taken at construction), at no offset until the
 * step; the steady clock took its anchor at import, so the step does not reach it.
 */
import { describe, expect, it } from 'vitest'
import { HOUR_MS, steppedWallClock } from '../util/wall-clock.js'
import { steadyNowMs } from '../../src/util/clock.js'
import { waitFor } from '../node/helpers.js'
import { FakeNet, NET, newPeerId, redialerOn } from './fake-redial-net.js'

const wall = steppedWallClock()

describe('Redialer on a stepped wall clock', () => {
  it('should dial a refused peer again once its backoff has passed, after the wall clock stepped back an hour', async () => {
    const net = new FakeNet(await newPeerId())
    const peer = await newPeerId()
    net.refusing.add(peer.toString())
    const { redialer, round } = await redialerOn(net)
    redialer.addPeer(peer.toString())
    await round()
    expect(net.attempts).toEqual([peer.toString()])
    // The backoff drawn is at most the minimum backoff (jitter in [0.5, 1) of it) from the failure.
    const failedByMs = steadyNowMs()

    wall.step(-HOUR_MS)
    await waitFor(() => steadyNowMs() > failedByMs + NET.redialBackoffMinMs, 5_000, 'the backoff to pass on the steady clock')
    await round()
    await redialer.stop()
    expect(net.attempts).toEqual([peer.toString(), peer.toString()])
  })
})
