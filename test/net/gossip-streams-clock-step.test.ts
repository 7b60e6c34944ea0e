/**
 * A wall-clock step back does not keep the gossip stream mender from reopening a lost stream (issue 9 item 7).
 * libp2p stamps a connection's `timeline.open` with the wall clock; the mender measured a connection's age as the
 * wall clock now minus that stamp, so after a step back of an hour every connection opened before the step was
 * "younger than the grace" for that hour, and a peer whose stream was lost stayed deaf to this node as long. Now the
 * stamp is converted to the steady clock once, when the mender first sees the connection (net/connection-ages.ts),
 * and ages are measured on the steady clock. Method: the mender over a fake libp2p node holding one connection
 * and gossipsub's stream tables; the wall clock is `Date.now` spied on, stepped back an hour after the mender has
 * seen the connection with its stream; the stream is then removed and, once the grace has passed on the steady
 * clock, one check must reopen it. The same conversion serves membership's voter reconnection and an observer's
 * link trimming (ConnectionAges, tested below).
 */
import { describe, expect, it } from 'vitest'
import { HOUR_MS, steppedWallClock } from '../util/wall-clock.js'
import type { PeerId } from '@libp2p/interface'
import { GOSSIP_STREAM_LOST_GRACE_MS, GossipStreamMender } from '../../src/net/gossip-streams.js'
import { ConnectionAges } from '../../src/net/connection-ages.js'
import type { NetNode } from '../../src/net/index.js'
import { silentLogger } from '../../src/log/index.js'
import { steadyNowMs } from '../../src/util/clock.js'
import { waitFor } from '../node/helpers.js'
import { newPeerId } from './fake-redial-net.js'

const wall = steppedWallClock()

/** A libp2p node with one open connection to `peer` and gossipsub's stream tables, recording `onPeerConnected`. */
function fakeNet (peer: PeerId): { net: NetNode, outbound: Map<string, unknown>, reopened: string[] } {
  const outbound = new Map<string, unknown>([[peer.toString(), {}]])
  const reopened: string[] = []
  const connection = { remotePeer: peer, status: 'open', timeline: { open: Date.now() }, limits: undefined }
  const pubsub = { streamsOutbound: outbound, streamsInbound: new Map(), onPeerConnected: (id: PeerId) => { reopened.push(id.toString()) } }
  return { net: { services: { pubsub }, getConnections: () => [connection] } as unknown as NetNode, outbound, reopened }
}

describe('gossip stream mender on a stepped wall clock', () => {
  it('should reopen a lost stream once the grace has passed on the steady clock, after the wall clock stepped back an hour', async () => {
    const peer = await newPeerId()
    const openedAt = steadyNowMs()
    const { net, outbound, reopened } = fakeNet(peer)
    const mender = new GossipStreamMender(net, silentLogger())
    expect(mender.check()).toBe(0) // sees the connection and its stream

    wall.step(-HOUR_MS)
    outbound.delete(peer.toString())
    await waitFor(() => steadyNowMs() > openedAt + GOSSIP_STREAM_LOST_GRACE_MS, 5_000, 'the grace to pass on the steady clock')
    expect(mender.check()).toBe(1)
    expect(reopened).toEqual([peer.toString()])
    expect(mender.reopened).toBe(1)
  })
})

describe('ConnectionAges', () => {
  it('should convert a connection\'s wall-clock open stamp once, so later wall steps move none of its age', () => {
    let wallMs = 5_000_000
    const ages = new ConnectionAges(() => wallMs)
    const connection = { timeline: { open: wallMs - 2_000 } }
    expect(ages.openedAtMs(connection, 100_000)).toBe(98_000)
    wallMs -= HOUR_MS
    expect(ages.openedAtMs(connection, 101_000)).toBe(98_000)
    wallMs += 2 * HOUR_MS
    expect(ages.openedAtMs(connection, 102_000)).toBe(98_000)
    // A stamp ahead of the wall clock (a step back between the open and the first look) counts as opened now.
    const later = { timeline: { open: wallMs + 60_000 } }
    expect(ages.openedAtMs(later, 103_000)).toBe(103_000)
  })
})
