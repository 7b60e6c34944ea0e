/**
 * A fake libp2p node for Redialer tests, and a started Redialer over it whose rounds a test runs by hand
 * (test/net/redial-forget.test.ts, test/net/redial-clock-step.test.ts).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Redialer } from '../../src/net/redial.js'
import type { NetNode } from '../../src/net/index.js'
import { KEEP_ALIVE_CLUSTER_TAG } from '../../src/net/constants.js'
import { silentLogger } from '../../src/log/index.js'
import type { Config } from '../../src/config/index.js'
import type { Ticker } from '../../src/util/ticker.js'

export const NET = { redialIntervalMs: 1000, redialBackoffMinMs: 100, redialBackoffMaxMs: 1000, dialTimeoutMs: 1000, mdns: false } as Config['net']

export async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/**
 * A libp2p node that connects every dial at once: by PeerId, or by address to the peer `addressOf` names;
 * a dial to a peer in `refusing` is refused. `dials` lists the connected dials, `attempts` every dial.
 */
export class FakeNet extends EventTarget {
  readonly dials: string[] = []
  readonly attempts: string[] = []
  readonly refusing = new Set<string>()
  readonly connected = new Set<string>()
  readonly tagged = new Set<string>()
  readonly addressOf = new Map<string, PeerId>()
  readonly peerStore = {
    merge: async (peer: PeerId, update: { tags?: Record<string, unknown> }): Promise<void> => {
      if (update.tags === undefined || !(KEEP_ALIVE_CLUSTER_TAG in update.tags)) return
      if (update.tags[KEEP_ALIVE_CLUSTER_TAG] === undefined) this.tagged.delete(peer.toString())
      else this.tagged.add(peer.toString())
    }
  }

  constructor (readonly peerId: PeerId) { super() }

  getMultiaddrs (): Multiaddr[] { return [] }

  getConnections (peer?: PeerId): unknown[] {
    return peer !== undefined && this.connected.has(peer.toString()) ? [{}] : []
  }

  async dial (target: PeerId | Multiaddr): Promise<{ remotePeer: PeerId }> {
    this.attempts.push(target.toString())
    const remote = 'toMultihash' in target ? target : this.addressOf.get(target.toString())
    if (remote === undefined || this.refusing.has(remote.toString())) throw new Error('connection refused')
    this.dials.push(remote.toString())
    this.connected.add(remote.toString())
    return { remotePeer: remote }
  }

  /** The other end dialled in (libp2p's `peer:connect`). */
  connectFrom (peer: PeerId): void {
    this.connected.add(peer.toString())
    this.dispatchEvent(new CustomEvent('peer:connect', { detail: peer }))
  }
}

/** A started Redialer (on `now`, the default clock unless given) whose rounds run when `round()` is awaited. */
export async function redialerOn (net: FakeNet, now?: () => number): Promise<{ redialer: Redialer, round: () => Promise<void> }> {
  let run: () => void = () => {}
  const ticker: Ticker = { every: (_ms, r) => { run = r; return () => {} } }
  const redialer = new Redialer(net as unknown as NetNode, NET, silentLogger(), now)
  redialer.start(ticker)
  // The first round runs on a zero timeout; let it and its dials finish.
  const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve)) }
  await settle()
  return { redialer, round: async () => { run(); await settle() } }
}
