/**
 * Whom a node's redial loop keeps once its configuration is known (membership/links.ts `ObserverLinks`). A member
 * heard of while one of the two was not yet listed is no redial target (core/joiner.ts dialsHeardMember): the
 * later admitted one dials the other as it finds itself listed. Method: drive `update` as membership's tick does,
 * with a redialer stub that records the peers it is given, and no libp2p.
 */
import { describe, expect, it } from 'vitest'
import { ObserverLinks, LINK_CHECK_EVERY_MS } from '../../src/membership/links.js'
import type { RaftMembers } from '../../src/membership/core/index.js'
import type { NetNode, Redialer } from '../../src/net/index.js'
import { silentLogger } from '../../src/log/index.js'

function linksOf (self: string): { links: ObserverLinks, dialled: string[] } {
  const dialled: string[] = []
  const redialer = { restrictTo: () => {}, addPeer: (peer: string) => { dialled.push(peer) } } as unknown as Redialer
  const links = new ObserverLinks({ net: {} as NetNode, redialer, log: silentLogger(), self, heartbeatTopic: 'topic', ringNeighbours: 2 })
  return { links, dialled }
}

const ADMITTED: RaftMembers = { voters: ['a', 'b'], votersOutgoing: [], learners: ['c', 'self'], learnersNext: [] }

describe('redial scope from the configuration', () => {
  it('should dial every member when the first configuration already lists this node', () => {
    // Admitted before a tick saw it a joiner: full before consensus runs, full once listed. No tier change.
    const { links, dialled } = linksOf('self')
    links.update('full', undefined, 0)
    expect(dialled).toEqual([])
    links.update('full', ADMITTED, LINK_CHECK_EVERY_MS)
    expect(dialled.sort()).toEqual(['a', 'b', 'c'])
    links.update('full', ADMITTED, 2 * LINK_CHECK_EVERY_MS)
    expect(dialled).toHaveLength(3)
  })

  it('should dial every member when a joiner is admitted', () => {
    const { links, dialled } = linksOf('self')
    links.update('full', undefined, 0)
    links.update('joiner', { voters: ['a'], votersOutgoing: [], learners: [], learnersNext: [] }, 10, () => new Set(['a']))
    expect(dialled).toEqual(['a'])
    links.update('full', ADMITTED, 20)
    expect(dialled.slice(1).sort()).toEqual(['a', 'b', 'c'])
  })
})
