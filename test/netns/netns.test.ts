/**
 * The pure parts of the network-namespace plumbing (src/netns): picking a private /24 that overlaps nothing
 * the host uses, and refusing to build a lab without root, `ip` or `nft` (with a reason naming which).
 */
import { describe, expect, it } from 'vitest'
import { assertNetnsAvailable, netnsUnavailableReason, pickFreeSubnet, prefixesOverlap } from '../../src/netns/index.js'

describe('netns subnet', () => {
  it('should see overlaps between prefixes of any length, and none between neighbours', () => {
    expect(prefixesOverlap('10.213.7.0/24', '10.213.7.254/32')).toBe(true)
    expect(prefixesOverlap('10.0.0.0/8', '10.213.7.0/24')).toBe(true)
    expect(prefixesOverlap('10.213.7.5/24', '10.213.7.0/24')).toBe(true)
    expect(prefixesOverlap('10.213.6.0/24', '10.213.7.0/24')).toBe(false)
    expect(prefixesOverlap('10.213.8.1', '10.213.7.0/24')).toBe(false)
    expect(prefixesOverlap('not-an-address', '10.213.7.0/24')).toBe(false)
  })

  it('should skip every /24 the host already uses and wrap around, ignoring the default route', () => {
    const used = ['0.0.0.0/0', '127.0.0.1/8', '10.213.250.3/24', '10.213.251.0/24', '10.213.252.0/23']
    expect(pickFreeSubnet(used, '10.213', 250)).toBe('10.213.254')
    expect(pickFreeSubnet(['10.213.0.0/16'], '10.213', 0)).toBeNull()
    expect(pickFreeSubnet([...used, '10.213.254.0/24', '10.213.255.9/32'], '10.213', 250)).toBe('10.213.0')
  })
})

describe('netns availability', () => {
  const tools = (present: string[]) => (tool: string): boolean => present.includes(tool)

  it('should refuse a non-root process first, then a missing ip, then a missing nft', () => {
    expect(netnsUnavailableReason({ uid: 1000, hasTool: tools(['ip', 'nft']) })).toMatch(/needs root.*uid 1000/)
    expect(netnsUnavailableReason({ uid: 0, hasTool: tools(['nft']) })).toMatch(/`ip` is missing.*iproute2/)
    expect(netnsUnavailableReason({ uid: 0, hasTool: tools(['ip']) })).toMatch(/`nft` is missing.*nftables/)
    expect(netnsUnavailableReason({ uid: 0, hasTool: tools(['ip', 'nft']) })).toBeNull()
    expect(() => { assertNetnsAvailable({ uid: 1000, hasTool: tools(['ip', 'nft']) }) }).toThrow(expect.objectContaining({ name: 'NetnsUnavailableError' }))
  })
})
