/**
 * The address lookup's pure decisions (core/address-lookup.ts): whose addresses a node needs, whom it asks, and
 * the strict reading of requests and answers (a peer's frame is a dial hint at most, never trusted further).
 */
import { describe, expect, it } from 'vitest'
import { LOOKUP_IDS_MAX, LOOKUP_REQUEST_BYTES_MAX, LOOKUP_RETRY_MAX_MS, LOOKUP_RETRY_MIN_MS, lookupAnswerers, membersToReach, nextLookupRetryMs, parseLookupAnswer, parseLookupRequest } from '../../src/membership/core/address-lookup.js'
import type { RaftMembers } from '../../src/membership/core/index.js'
import { MembershipConstants } from '../../src/membership/core/index.js'
import { encodeCanonical } from '../../src/codec/index.js'

const conf = (voters: string[], learners: string[] = [], votersOutgoing: string[] = [], learnersNext: string[] = []): RaftMembers => ({ voters, votersOutgoing, learners, learnersNext })

describe('membersToReach', () => {
  it('should give a voter every other member, both halves of a joint configuration included', () => {
    expect(membersToReach(conf(['v2', 'v1'], ['l2', 'l1'], ['v3'], ['l3']), 'v1')).toEqual(['l1', 'l2', 'l3', 'v2', 'v3'])
    // An outgoing voter still votes: it may campaign.
    expect(membersToReach(conf(['v1'], ['l1'], ['v3']), 'v3')).toEqual(['l1', 'v1'])
  })

  it('should give a learner the voters only (the leader dials it; it keeps the voters connected)', () => {
    expect(membersToReach(conf(['v2', 'v1'], ['l2', 'l1'], ['v3']), 'l1')).toEqual(['v1', 'v2', 'v3'])
  })

  it('should give a node the configuration does not list the voters, and never itself', () => {
    expect(membersToReach(conf(['v1']), 'x')).toEqual(['v1'])
    expect(membersToReach(conf(['v1']), 'v1')).toEqual([])
  })
})

describe('lookupAnswerers', () => {
  const c = conf(['v1', 'v2'], ['l1', 'l2'])
  it('should ask the leader first, then the other connected members in order, never an unconnected one or itself', () => {
    expect(lookupAnswerers({ self: 'l1', leader: 'v2', conf: c, connected: new Set(['v2', 'v1', 'l2']) })).toEqual(['v2', 'l2', 'v1'])
    expect(lookupAnswerers({ self: 'l1', leader: 'v2', conf: c, connected: new Set(['v1']) })).toEqual(['v1'])
    expect(lookupAnswerers({ self: 'v1', leader: 'v1', conf: c, connected: new Set(['v1', 'l1']) })).toEqual(['l1'])
  })

  it('should ask nobody outside the configuration, even when connected', () => {
    expect(lookupAnswerers({ self: 'l1', leader: null, conf: c, connected: new Set(['stranger']) })).toEqual([])
  })
})

describe('parseLookupRequest', () => {
  it('should accept distinct short ids within the bound', () => {
    expect(parseLookupRequest({ ids: ['a', 'b'] })).toEqual({ ids: ['a', 'b'], leader: false })
    // A joiner's leader question (no ids needed).
    expect(parseLookupRequest({ ids: [], leader: true })).toEqual({ ids: [], leader: true })
    expect(parseLookupRequest({ ids: Array.from({ length: LOOKUP_IDS_MAX }, (_, i) => `p${i}`) })).not.toBeNull()
    // The largest valid request fits the bound an answerer reads.
    const largest = { ids: Array.from({ length: LOOKUP_IDS_MAX }, (_, i) => `${i}`.padStart(256, 'x')) }
    expect(parseLookupRequest(largest)).not.toBeNull()
    expect(encodeCanonical(largest).length).toBeLessThanOrEqual(LOOKUP_REQUEST_BYTES_MAX)
  })

  it('should refuse too many ids, repeated ids, non-strings, empty or overlong strings, and other shapes', () => {
    expect(parseLookupRequest({ ids: Array.from({ length: LOOKUP_IDS_MAX + 1 }, (_, i) => `p${i}`) })).toBeNull()
    expect(parseLookupRequest({ ids: ['a', 'a'] })).toBeNull()
    expect(parseLookupRequest({ ids: ['a', 7] })).toBeNull()
    expect(parseLookupRequest({ ids: [''] })).toBeNull()
    expect(parseLookupRequest({ ids: ['x'.repeat(257)] })).toBeNull()
    expect(parseLookupRequest({ ids: 'a' })).toBeNull()
    expect(parseLookupRequest(null)).toBeNull()
    expect(parseLookupRequest([['a']])).toBeNull()
    expect(parseLookupRequest({ ids: [], leader: 1 })).toBeNull()
  })
})

describe('parseLookupAnswer', () => {
  const asked = ['a', 'b']
  it('should take entries for asked ids, with their /p2p/ suffix removed when it names the entry', () => {
    expect(parseLookupAnswer({ peers: [{ id: 'b', addresses: ['/ip4/127.0.0.1/tcp/5/p2p/b', '/ip4/10.0.0.1/tcp/5'] }] }, asked))
      .toEqual({ peers: [{ id: 'b', addresses: ['/ip4/127.0.0.1/tcp/5', '/ip4/10.0.0.1/tcp/5'] }] })
    expect(parseLookupAnswer({ peers: [] }, asked)).toEqual({ peers: [] })
  })

  it('should refuse the whole answer when an entry was not asked for, repeats, names another peer, or is out of bounds', () => {
    expect(parseLookupAnswer({ peers: [{ id: 'z', addresses: ['/ip4/127.0.0.1/tcp/5'] }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: [{ id: 'a', addresses: [] }, { id: 'a', addresses: [] }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: [{ id: 'a', addresses: ['/ip4/127.0.0.1/tcp/5/p2p/b'] }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: [{ id: 'a', addresses: ['/ip4/127.0.0.1/tcp/5/p2p/b/p2p-circuit/p2p/a'] }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: [{ id: 'a', addresses: ['/ip4/127.0.0.1/tcp/5/p2p/b/ip4/1'] }] }, asked)).toBeNull()
    const many = Array.from({ length: MembershipConstants.MAX_ADDRESSES + 1 }, (_, i) => `/ip4/127.0.0.1/tcp/${i + 1}`)
    expect(parseLookupAnswer({ peers: [{ id: 'a', addresses: many }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: [{ id: 'a', addresses: ['x'.repeat(257)] }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: [{ id: 'a', addresses: [5] }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: [{ id: 'a' }] }, asked)).toBeNull()
    expect(parseLookupAnswer({ peers: 'a' }, asked)).toBeNull()
    expect(parseLookupAnswer(undefined, asked)).toBeNull()
  })

  it('should take the leader only when asked for it, and refuse the whole answer when its entry is malformed', () => {
    const leader = { id: 'l', addresses: ['/ip4/127.0.0.1/tcp/7/p2p/l'] }
    expect(parseLookupAnswer({ peers: [], leader }, [], true)).toEqual({ peers: [], leader: { id: 'l', addresses: ['/ip4/127.0.0.1/tcp/7'] } })
    // An answerer that knows no leader (or an older build) leaves it out.
    expect(parseLookupAnswer({ peers: [] }, [], true)).toEqual({ peers: [] })
    // Not asked: ignored, never used.
    expect(parseLookupAnswer({ peers: [], leader }, [])).toEqual({ peers: [] })
    // Its addresses are held to the peers' rules: one naming another peer, or a relay, voids the answer.
    expect(parseLookupAnswer({ peers: [], leader: { id: 'l', addresses: ['/ip4/127.0.0.1/tcp/7/p2p/x'] } }, [], true)).toBeNull()
    expect(parseLookupAnswer({ peers: [], leader: { id: 'l', addresses: ['/ip4/127.0.0.1/tcp/7/p2p/x/p2p-circuit/p2p/l'] } }, [], true)).toBeNull()
    expect(parseLookupAnswer({ peers: [], leader: { id: '', addresses: [] } }, [], true)).toBeNull()
    expect(parseLookupAnswer({ peers: [], leader: 'l' }, [], true)).toBeNull()
  })
})

describe('nextLookupRetryMs', () => {
  it('should start at the minimum and double up to the maximum', () => {
    let ms = nextLookupRetryMs(undefined)
    expect(ms).toBe(LOOKUP_RETRY_MIN_MS)
    const seen = [ms]
    for (let i = 0; i < 10; i++) seen.push(ms = nextLookupRetryMs(ms))
    expect(seen.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16_000])
    expect(Math.max(...seen)).toBe(LOOKUP_RETRY_MAX_MS)
  })
})
