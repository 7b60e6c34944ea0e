/**
 * @module test/fuzz/targets/address-lookup
 * The address lookup's two frames exactly as AddressLookupService reads them (membership/address-lookup.ts):
 * a request (decodeCanonical → parseLookupRequest) and an answer to a fixed question (decodeCanonical →
 * parseLookupAnswer → parseAddresses, the multiaddrs that go into the peer store). Nothing may throw; an
 * accepted request holds at most LOOKUP_IDS_MAX distinct ids; an accepted answer holds only ids asked for, each
 * once, with at most MAX_ADDRESSES addresses, none still carrying a `/p2p/` suffix; every stored multiaddr is one
 * of the answer's addresses. A joiner's leader question (`leader: true`) is asked in every other input (by the
 * answer frame's length): a leader entry is kept only when asked, and is held to the peers' rules.
 */
import { decodeCanonical, encodeCanonical } from '../../../src/codec/index.js'
import { LOOKUP_IDS_MAX, parseLookupAnswer, parseLookupRequest } from '../../../src/membership/core/address-lookup.js'
import { MembershipConstants as C } from '../../../src/membership/core/index.js'
import { parseAddresses } from '../../../src/membership/addresses.js'
import { joinFrames, splitFrames } from '../frames.js'
import { damageValue, encodeValue } from '../values.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

const ASKED = ['12D3KooWA', '12D3KooWB', '12D3KooWC']

function request (rng: FuzzRng): Uint8Array {
  const ids = Array.from({ length: rng.int(5) }, (_, i) => `12D3KooW${i}${rng.int(3)}`)
  const value = rng.chance(0.3) ? { ids, leader: true } : { ids }
  return rng.chance(0.5) ? encodeCanonical(value) : encodeValue(rng, damageValue(rng, value))
}

function answer (rng: FuzzRng): Uint8Array {
  const addresses = ['/ip4/127.0.0.1/tcp/4101', '/ip6/::1/tcp/9', '/dns4/node-a/tcp/1', '/ip4/10.0.0.1/tcp/2/p2p/12D3KooWA', 'not-a-multiaddr', '/ip4/1.2.3.4/udp/x']
  const peers = ASKED.filter(() => rng.chance(0.6)).map((id) => ({ id, addresses: addresses.filter(() => rng.chance(0.4)) }))
  const value = rng.chance(0.5) ? { peers, leader: { id: ASKED[rng.int(ASKED.length)] as string, addresses: addresses.filter(() => rng.chance(0.4)) } } : { peers }
  return rng.chance(0.5) ? encodeCanonical(value) : encodeValue(rng, damageValue(rng, value))
}

function decoded (data: Uint8Array): { ok: true, value: unknown } | { ok: false } {
  try {
    return { ok: true, value: decodeCanonical(data) }
  } catch (err) {
    invariant(['MalformedEncodingError', 'NonCanonicalEncodingError'].includes((err as Error).name), () => `decodeCanonical threw ${(err as Error).name}`)
    return { ok: false }
  }
}

export const addressLookupTarget: FuzzTarget = {
  name: 'address-lookup',
  description: 'lookup request / answer bytes → decodeCanonical → parseLookupRequest / parseLookupAnswer → parseAddresses (never throws; only asked ids; bounded)',
  typedErrors: [],
  corpus: (rng) => [joinFrames([request(rng), answer(rng)])],
  generate: (rng) => joinFrames([request(rng), answer(rng)]),
  run (input) {
    const [req, ans] = splitFrames(input, 0, 2)
    if (req !== undefined) {
      const d = decoded(req)
      const parsed = d.ok ? parseLookupRequest(d.value) : null
      if (parsed !== null) invariant(parsed.ids.length <= LOOKUP_IDS_MAX && new Set(parsed.ids).size === parsed.ids.length, 'request over its bound or with repeated ids')
    }
    if (ans !== undefined) {
      const d = decoded(ans)
      const leaderAsked = ans.length % 2 === 0
      const parsed = d.ok ? parseLookupAnswer(d.value, ASKED, leaderAsked) : null
      if (parsed === null) return
      invariant(parsed.leader === undefined || leaderAsked, 'a leader taken from an answer that was not asked for one')
      const ids = parsed.peers.map((p) => p.id)
      invariant(ids.every((id) => ASKED.includes(id)) && new Set(ids).size === ids.length, () => `answer with ids not asked or repeated: ${ids.join(',')}`)
      for (const peer of parsed.leader === undefined ? parsed.peers : [...parsed.peers, parsed.leader]) {
        invariant(peer.addresses.length <= C.MAX_ADDRESSES, 'answer entry over MAX_ADDRESSES')
        invariant(peer.addresses.every((a) => !/\/p2p\//.test(a.replace(/\/p2p-circuit/g, ''))), () => `an address kept a /p2p/ part: ${peer.addresses.join(' ')}`)
        for (const ma of parseAddresses(peer.addresses)) invariant(peer.addresses.includes(ma.toString()), () => `stored ${ma.toString()}, not an answered address`)
      }
    }
  }
}
