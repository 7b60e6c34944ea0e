/**
 * A member removed from the cluster leaves `peers.json` (net/known-peers.ts listens to Redialer.onForget) and
 * stays out of it while the redialer remembers it (an identify from it is ignored), so a restart no longer makes
 * it a redial target before the log is replayed. Before, the file kept it until KNOWN_PEERS_MAX newer peers
 * pushed it out. Method: trackKnownPeers over a fake libp2p node (identify events dispatched by hand, the peer
 * store's merges recorded) with a real, unstarted Redialer; the file is read after the tracker's stop function
 * has waited for its last write. The wiring from consensus is in test/consensus/cluster/removed-redial.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Redialer } from '../../src/net/redial.js'
import { trackKnownPeers } from '../../src/net/known-peers.js'
import type { NetNode } from '../../src/net/index.js'
import { KNOWN_PEERS_FILE_NAME } from '../../src/net/constants.js'
import { silentLogger } from '../../src/log/index.js'
import type { Config } from '../../src/config/index.js'
import { tempDir } from '../node/helpers.js'

const NET = { redialIntervalMs: 1000, redialBackoffMinMs: 100, redialBackoffMaxMs: 1000, dialTimeoutMs: 1000, mdns: false } as Config['net']

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A libp2p node that only records what is merged into its peer store and lets a test dispatch identify. */
class FakeNet extends EventTarget {
  /** Peers whose addresses were merged into the peer store (trackKnownPeers's load). */
  readonly merged = new Set<string>()
  readonly peerStore = {
    merge: async (peer: PeerId, update: { multiaddrs?: Multiaddr[] }): Promise<void> => {
      if (update.multiaddrs !== undefined) this.merged.add(peer.toString())
    }
  }

  constructor (readonly peerId: PeerId) { super() }

  getMultiaddrs (): Multiaddr[] { return [] }

  getConnections (): unknown[] { return [] }

  identify (peer: PeerId, addr: string): void {
    this.dispatchEvent(new CustomEvent('peer:identify', { detail: { peerId: peer, listenAddrs: [multiaddr(addr)] } }))
  }
}

/** A node on `dir`: its fake libp2p, a Redialer and the started tracker's stop function. */
async function start (dir: string, self: PeerId): Promise<{ net: FakeNet, redialer: Redialer, stop: () => Promise<void> }> {
  const net = new FakeNet(self)
  const redialer = new Redialer(net as unknown as NetNode, NET, silentLogger())
  const { stop } = await trackKnownPeers(net as unknown as NetNode, redialer, dir, silentLogger())
  return { net, redialer, stop }
}

async function known (dir: string): Promise<string[]> {
  return Object.keys(JSON.parse(await readFile(path.join(dir, KNOWN_PEERS_FILE_NAME), 'utf8')) as Record<string, string[]>)
}

/** A tracker on a fresh data dir that has seen two peers identify: one to keep, one to forget. */
async function twoPeersIdentified (): Promise<{ dir: string, self: PeerId, kept: PeerId, removed: PeerId, first: Awaited<ReturnType<typeof start>> }> {
  const dir = await tempDir()
  const self = await newPeerId()
  const kept = await newPeerId()
  const removed = await newPeerId()
  const first = await start(dir, self)
  first.net.identify(kept, '/ip4/10.0.0.1/tcp/4001')
  first.net.identify(removed, '/ip4/10.0.0.2/tcp/4001')
  return { dir, self, kept, removed, first }
}

describe('known peers and forgotten members', () => {
  it('should drop a forgotten peer from peers.json, not take it back on identify, and not redial it after a restart', async () => {
    const { dir, self, kept, removed, first } = await twoPeersIdentified()
    // Forgotten while the identify's write may still be under way: the writes are chained, the last one wins.
    first.redialer.forget(removed.toString())
    // It connects again (a removed node that has not stopped), now from another address.
    first.net.identify(removed, '/ip4/10.0.0.3/tcp/4001')
    await first.stop()
    expect(await known(dir)).toEqual([kept.toString()])

    // Restarted on the same data dir (a new Redialer forgets nothing yet): only the kept peer comes back.
    const second = await start(dir, self)
    expect(second.redialer.tracks(kept.toString())).toBe(true)
    expect(second.redialer.tracks(removed.toString())).toBe(false)
    expect([...second.net.merged]).toEqual([kept.toString()])
    await second.stop()
  })

  it('should drop a peer the file lists when it is forgotten after the load, as consensus does after replaying its log', async () => {
    const { dir, self, kept, removed, first } = await twoPeersIdentified()
    await first.stop()
    expect((await known(dir)).sort()).toEqual([kept.toString(), removed.toString()].sort())

    const second = await start(dir, self)
    expect(second.redialer.tracks(removed.toString())).toBe(true)
    second.redialer.forget(removed.toString())
    await second.stop()
    expect(await known(dir)).toEqual([kept.toString()])
  })

  it('should not write the file for a forgotten peer it never listed', async () => {
    const dir = await tempDir()
    const { redialer, stop } = await start(dir, await newPeerId())
    redialer.forget((await newPeerId()).toString())
    await stop()
    expect(existsSync(path.join(dir, KNOWN_PEERS_FILE_NAME))).toBe(false)
  })

  it('should stop listening to the redialer once stopped', async () => {
    const dir = await tempDir()
    const self = await newPeerId()
    const removed = await newPeerId()
    const first = await start(dir, self)
    first.net.identify(removed, '/ip4/10.0.0.2/tcp/4001')
    await first.stop()
    // A forget after the stop (the node is shutting down) writes nothing: nobody waits for that write.
    first.redialer.forget(removed.toString())
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await known(dir)).toEqual([removed.toString()])
  })
})
