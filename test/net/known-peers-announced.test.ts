/**
 * `peers.json` also holds the addresses members of the node's Raft configuration announce in their heartbeats
 * (net/known-peers.ts `KnownPeers.announced`; docs/MEMBERSHIP.md, "Where a node learns other members'
 * addresses"). Raft followers need not connect to each other, so a file of identified peers only left two
 * followers that never met, restarted after a site-wide power cut without the leader, with each other's ids only.
 * Method: trackKnownPeers over a fake libp2p node (identify dispatched by hand) with a real, unstarted Redialer;
 * writes are counted at the rename that puts each in place; the file is read after the tracker's stop has waited
 * for its last write. Membership's side (which heartbeats are announced) is in
 * test/membership/known-peers-announced.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { promises as fsPromises } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Redialer } from '../../src/net/redial.js'
import { trackKnownPeers } from '../../src/net/known-peers.js'
import type { KnownPeers } from '../../src/net/known-peers.js'
import type { NetNode } from '../../src/net/index.js'
import { KNOWN_PEER_ADDRS_MAX, KNOWN_PEERS_FILE_NAME, KNOWN_PEERS_MAX } from '../../src/net/constants.js'
import { silentLogger } from '../../src/log/index.js'
import type { Config } from '../../src/config/index.js'
import { tempDir } from '../node/helpers.js'

const NET = { redialIntervalMs: 1000, redialBackoffMinMs: 100, redialBackoffMaxMs: 1000, dialTimeoutMs: 1000, mdns: false } as Config['net']

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A libp2p node that records the peers merged into its peer store and lets a test dispatch identify. */
class FakeNet extends EventTarget {
  readonly merged = new Map<string, string[]>()
  readonly peerStore = {
    merge: async (peer: PeerId, update: { multiaddrs?: Multiaddr[] }): Promise<void> => {
      if (update.multiaddrs !== undefined) this.merged.set(peer.toString(), update.multiaddrs.map(String))
    }
  }

  constructor (readonly peerId: PeerId) { super() }

  getMultiaddrs (): Multiaddr[] { return [] }

  getConnections (): unknown[] { return [] }

  identify (peer: string, addrs: string[]): void {
    const peerId = { toString: () => peer }
    this.dispatchEvent(new CustomEvent('peer:identify', { detail: { peerId, listenAddrs: addrs.map((a) => multiaddr(a)) } }))
  }
}

interface Tracked { net: FakeNet, redialer: Redialer, known: KnownPeers }

async function start (dir: string, self: PeerId): Promise<Tracked> {
  const net = new FakeNet(self)
  const redialer = new Redialer(net as unknown as NetNode, NET, silentLogger())
  const known = await trackKnownPeers(net as unknown as NetNode, redialer, dir, silentLogger())
  return { net, redialer, known }
}

async function table (dir: string): Promise<Record<string, string[]>> {
  return JSON.parse(await readFile(path.join(dir, KNOWN_PEERS_FILE_NAME), 'utf8')) as Record<string, string[]>
}

/** Counts the writes of peers.json (each is a rename of its temp file into place). */
function countWrites (): () => number {
  const rename = vi.spyOn(fsPromises, 'rename')
  return () => rename.mock.calls.filter(([, to]) => String(to).endsWith(KNOWN_PEERS_FILE_NAME)).length
}

/** Made-up peer ids: the tracker records what it is told by its own components, so any string will do here. */
const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('known peers announced by members', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('should record a voter that never connected, and give its address back after a restart', async () => {
    const dir = await tempDir()
    const self = await newPeerId()
    const voter = (await newPeerId()).toString()
    const first = await start(dir, self)
    first.known.announced({ peer: voter, addresses: ['/ip4/10.0.0.7/tcp/4001'], voter: true })
    await first.known.stop()
    expect(await table(dir)).toEqual({ [voter]: ['/ip4/10.0.0.7/tcp/4001'] })

    // The power came back: the node dials it by the address it announced.
    const second = await start(dir, self)
    expect(second.redialer.tracks(voter)).toBe(true)
    expect(second.net.merged.get(voter)).toEqual(['/ip4/10.0.0.7/tcp/4001'])
    await second.known.stop()
  })

  it('should write only when an announcement changes the file', async () => {
    const dir = await tempDir()
    const writes = countWrites()
    const { known } = await start(dir, await newPeerId())
    for (let i = 0; i < 100; i++) known.announced({ peer: 'learner', addresses: ['/ip4/10.0.0.8/tcp/4001'], voter: false })
    // A learner promoted: same addresses, nothing to write.
    known.announced({ peer: 'learner', addresses: ['/ip4/10.0.0.8/tcp/4001'], voter: true })
    // Restarted on another port: written again.
    known.announced({ peer: 'learner', addresses: ['/ip4/10.0.0.8/tcp/4002'], voter: true })
    await known.stop()
    expect(writes()).toBe(2)
    expect(await table(dir)).toEqual({ learner: ['/ip4/10.0.0.8/tcp/4002'] })
  })

  it('should not let an announcement replace what identify reported, nor record itself, a forgotten peer or no address', async () => {
    const dir = await tempDir()
    const self = await newPeerId()
    const { net, redialer, known } = await start(dir, self)
    net.identify('connected', ['/ip4/10.0.0.1/tcp/4001', '/ip4/192.168.0.1/tcp/4001'])
    known.announced({ peer: 'connected', addresses: ['/ip4/10.0.0.1/tcp/4001'], voter: true })
    // Identified with the same addresses the file already had from an announcement: identify's from then on.
    known.announced({ peer: 'announced-first', addresses: ['/ip4/10.0.0.2/tcp/4001'], voter: true })
    net.identify('announced-first', ['/ip4/10.0.0.2/tcp/4001'])
    known.announced({ peer: 'announced-first', addresses: ['/ip4/10.0.0.9/tcp/4001'], voter: true })
    known.announced({ peer: self.toString(), addresses: ['/ip4/10.0.0.3/tcp/4001'], voter: true })
    redialer.forget('removed')
    known.announced({ peer: 'removed', addresses: ['/ip4/10.0.0.4/tcp/4001'], voter: false })
    known.announced({ peer: 'silent', addresses: [], voter: true })
    await known.stop()
    expect(await table(dir)).toEqual({
      connected: ['/ip4/10.0.0.1/tcp/4001', '/ip4/192.168.0.1/tcp/4001'],
      'announced-first': ['/ip4/10.0.0.2/tcp/4001']
    })
  })

  it('should let a member\'s own word replace an entry loaded from the file, and keep at most KNOWN_PEER_ADDRS_MAX addresses', async () => {
    const dir = await tempDir()
    await writeFile(path.join(dir, KNOWN_PEERS_FILE_NAME), JSON.stringify({ moved: ['/ip4/10.0.0.5/tcp/4001'] }))
    const { known } = await start(dir, await newPeerId())
    known.announced({ peer: 'moved', addresses: ['/ip4/10.0.0.5/tcp/4999'], voter: true })
    const many = Array.from({ length: KNOWN_PEER_ADDRS_MAX + 5 }, (_, i) => `/ip4/10.0.1.${i + 1}/tcp/4001`)
    known.announced({ peer: 'chatty', addresses: many, voter: false })
    await known.stop()
    expect(await table(dir)).toEqual({ moved: ['/ip4/10.0.0.5/tcp/4999'], chatty: many.slice(0, KNOWN_PEER_ADDRS_MAX) })
  })

  it('should keep voters first in a full file, and leave a learner out without writing at each of its heartbeats', async () => {
    const dir = await tempDir()
    const writes = countWrites()
    const { net, known } = await start(dir, await newPeerId())
    const [oldVoter, newVoter] = ids('voter-', 2) as [string, string]
    const connected = ids('connected-', KNOWN_PEERS_MAX - 1)
    known.announced({ peer: oldVoter, addresses: ['/ip4/10.0.2.1/tcp/4001'], voter: true })
    for (const id of connected) net.identify(id, ['/ip4/10.0.3.1/tcp/4001'])
    // Full: a learner stays out, at every heartbeat of it, and nothing is written.
    for (let i = 0; i < 10; i++) known.announced({ peer: 'learner', addresses: ['/ip4/10.0.2.9/tcp/4001'], voter: false })
    // A voter takes the place of the oldest non-voter (the old voter is older), once.
    for (let i = 0; i < 10; i++) known.announced({ peer: newVoter, addresses: ['/ip4/10.0.2.2/tcp/4001'], voter: true })
    // A peer that connects pushes out the oldest non-voter too, not the oldest entry.
    net.identify('newcomer', ['/ip4/10.0.2.3/tcp/4001'])
    await known.stop()
    expect(writes()).toBe(KNOWN_PEERS_MAX + 2)
    const held = Object.keys(await table(dir))
    expect(held).toHaveLength(KNOWN_PEERS_MAX)
    expect(held).toEqual(expect.arrayContaining([oldVoter, newVoter, 'newcomer']))
    expect(held).not.toContain('learner')
    expect(held).not.toContain(connected[0])
    expect(held).not.toContain(connected[1])
    expect(held).toContain(connected[2])
  })
})

describe('known peers in a full file, by recency', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('should push out the peer seen least recently, not the one recorded first, when a peer is seen again unchanged', async () => {
    // Goal: a long-lived peer still in use (it reconnects, or its heartbeats keep coming, with the addresses the file
    // holds) outlives a stale one recorded after it. Method: a full file of identified non-voters; the first one is
    // identified again and a learner announced again, both unchanged (nothing to write); then two newcomers connect.
    const dir = await tempDir()
    const { net, known } = await start(dir, await newPeerId())
    const learner = 'learner'
    known.announced({ peer: learner, addresses: ['/ip4/10.0.4.1/tcp/4001'], voter: false })
    const connected = ids('connected-', KNOWN_PEERS_MAX - 1)
    for (const id of connected) net.identify(id, ['/ip4/10.0.3.1/tcp/4001'])
    net.identify(connected[0]!, ['/ip4/10.0.3.1/tcp/4001'])
    known.announced({ peer: learner, addresses: ['/ip4/10.0.4.1/tcp/4001'], voter: false })
    net.identify('newcomer-1', ['/ip4/10.0.2.3/tcp/4001'])
    net.identify('newcomer-2', ['/ip4/10.0.2.4/tcp/4001'])
    await known.stop()
    const held = Object.keys(await table(dir))
    expect(held).toHaveLength(KNOWN_PEERS_MAX)
    expect(held).toEqual(expect.arrayContaining([connected[0], learner, 'newcomer-1', 'newcomer-2']))
    expect(held).not.toContain(connected[1])
    expect(held).not.toContain(connected[2])
    // Written least recently seen first, so the order survives a restart.
    expect(held.slice(-4)).toEqual([connected[0], learner, 'newcomer-1', 'newcomer-2'])
  })
})

describe('peers.json on disk', () => {
  it('should be fsynced before its rename and its directory after it, so a power cut keeps the addresses', async () => {
    // A site's power cut is when a restarted node needs the file most: to find the voters it never met.
    const dir = await tempDir('revoada-known-durable-')
    const ops: string[] = []
    const open = fsPromises.open.bind(fsPromises)
    vi.spyOn(fsPromises, 'open').mockImplementation(async (...args: Parameters<typeof fsPromises.open>) => {
      const handle = await open(...args)
      const name = path.basename(String(args[0]))
      const sync = handle.sync.bind(handle)
      handle.sync = async () => { ops.push(`sync ${name}`); await sync() }
      return handle
    })
    const rename = fsPromises.rename.bind(fsPromises)
    vi.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => { ops.push(`rename ${path.basename(String(to))}`); await rename(from, to) })
    const t = await start(dir, await newPeerId())
    t.net.identify((await newPeerId()).toString(), ['/ip4/127.0.0.1/tcp/4101'])
    await t.known.stop()
    const at = ops.indexOf(`rename ${KNOWN_PEERS_FILE_NAME}`)
    expect(at).toBeGreaterThan(0)
    expect(ops[at - 1]).toMatch(new RegExp(`^sync ${KNOWN_PEERS_FILE_NAME}\\.`))
    expect(ops[at + 1]).toBe(`sync ${path.basename(dir)}`)
    vi.restoreAllMocks()
  })
})
