/**
 * Stale targets do not keep the redial loop from the others. Every peer that ever connected stays a target, and
 * peers.json brings up to KNOWN_PEERS_MAX of them back at a restart, first in the table after the seeds. A round
 * dials at most 8 targets; it took the due ones in table order, so whenever more stale targets were due than a
 * round dials (16 peers whose dials time out, 20 s each then up to 15 s of backoff, at the defaults, by a model
 * of the loop) the targets after them, members met since the restart among them, were never dialled. And the
 * table holds at most REDIAL_PEERS_MAX targets: full (a restart on a full peers.json, or a key holder connecting
 * with that many identities), it refused every new peer for the life of the process; now the target longest
 * without a connection makes room. Method: a Redialer over a fake libp2p node whose dials are recorded, rounds run
 * by hand (fake-redial-net.ts), on a hand-moved clock where timing matters; for the restart, trackKnownPeers loads
 * a peers.json of stale peers into it.
 */
import { describe, expect, it } from 'vitest'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { trackKnownPeers } from '../../src/net/known-peers.js'
import { KNOWN_PEERS_FILE_NAME, KNOWN_PEERS_MAX, REDIAL_PEERS_MAX } from '../../src/net/constants.js'
import type { NetNode } from '../../src/net/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'
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

/**
 * A member connects, then its connection drops: whether a round dials it. The stale targets never dialled yet are
 * due as long as it is and were added first: it waits for them, 8 a round.
 */
async function redialsNewcomer (net: FakeNet, round: () => Promise<void>): Promise<boolean> {
  const newcomer = await newPeerId()
  net.connectFrom(newcomer)
  await round()
  net.connected.delete(newcomer.toString())
  net.attempts.length = 0
  for (let i = 0; i < REDIAL_PEERS_MAX / 8 + 2 && !net.attempts.includes(newcomer.toString()); i++) await round()
  return net.attempts.includes(newcomer.toString())
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

  it('should make room in a full table for a new peer with the target longest without a connection, never a connected one', async () => {
    const net = new FakeNet(await newPeerId())
    const { redialer, round } = await redialerOn(net)
    const live = await newPeerId()
    net.connectFrom(live)
    const stale = await staleTargets(net, REDIAL_PEERS_MAX - 1)
    for (const peer of stale) redialer.addPeer(peer.toString())
    expect(redialer.size).toBe(REDIAL_PEERS_MAX)
    // No round has seen `live` connected since it was added, first: by its stamp it is the stalest target.
    expect(await redialsNewcomer(net, round)).toBe(true)
    expect(redialer.size).toBe(REDIAL_PEERS_MAX)
    expect(redialer.tracks(live.toString())).toBe(true)
    // The first stale peer added is the one longest without a connection.
    expect(redialer.tracks(stale[0]!.toString())).toBe(false)
    expect(stale.slice(1).every((peer) => redialer.tracks(peer.toString()))).toBe(true)
    await redialer.stop()
  })

  it('should make room with the target seen connected least recently, not the one added first', async () => {
    // A long-lived peer that connected again between two rounds (its connection gone by the next) was judged by
    // the stamp of its addition, first of all, and made room before peers added later and never connected since.
    let clockMs = 1_000_000
    const net = new FakeNet(await newPeerId())
    const { redialer } = await redialerOn(net, () => clockMs)
    const longLived = await newPeerId()
    redialer.addPeer(longLived.toString())
    const stale = await staleTargets(net, REDIAL_PEERS_MAX - 1)
    for (const peer of stale) redialer.addPeer(peer.toString())
    clockMs += 60_000
    net.connectFrom(longLived)
    net.connected.delete(longLived.toString())
    clockMs += 60_000
    net.connectFrom(await newPeerId())
    expect(redialer.size).toBe(REDIAL_PEERS_MAX)
    expect(redialer.tracks(longLived.toString())).toBe(true)
    expect(redialer.tracks(stale[0]!.toString())).toBe(false)
    await redialer.stop()
  })

  it('should still redial a member met after a restart on a peers.json full of stale peers', async () => {
    const dir = await tempDir()
    const net = new FakeNet(await newPeerId())
    const stale = await staleTargets(net, KNOWN_PEERS_MAX)
    const table = Object.fromEntries(stale.map((peer, i) => [peer.toString(), [`/ip4/10.0.${Math.floor(i / 250)}.${(i % 250) + 1}/tcp/4001`]]))
    await writeFile(path.join(dir, KNOWN_PEERS_FILE_NAME), JSON.stringify(table))
    const { redialer, round } = await redialerOn(net)
    const known = await trackKnownPeers(net as unknown as NetNode, redialer, dir, silentLogger())
    expect(redialer.size).toBe(REDIAL_PEERS_MAX)
    await round()
    expect(await redialsNewcomer(net, round)).toBe(true)
    await known.stop()
    await redialer.stop()
  })
})
