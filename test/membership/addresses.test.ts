import { describe, expect, it } from 'vitest'
import { parseAddresses, parseAdvertisedAddresses } from '../../src/membership/addresses.js'

const OWNER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const OTHER = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'

describe('parseAddresses', () => {
  it('should keep an answered address only as its canonical text, dropping what does not parse or would be rewritten', () => {
    const kept = parseAddresses(['/ip4/127.0.0.1/tcp/4101', '//ip4/127.0.0.1/tcp/410', '/ip4/127.0.0.1/tcp/4101/', 'not-a-multiaddr', '/', '/ip6/::1/tcp/9'])
    expect(kept.map((ma) => ma.toString())).toEqual(['/ip4/127.0.0.1/tcp/4101', '/ip6/::1/tcp/9'])
  })
})

describe('parseAdvertisedAddresses', () => {
  it('should keep a member\'s own addresses without their /p2p/ suffix, each bad one dropped alone', () => {
    const kept = parseAdvertisedAddresses([
      `/ip4/127.0.0.1/tcp/4101/p2p/${OWNER}`, // its own: kept, bare
      '/ip4/10.0.0.2/tcp/4101', // no suffix: kept
      `/ip4/127.0.0.1/tcp/4102/p2p/${OTHER}`, // another node's address: not the owner's
      `//ip4/127.0.0.1/tcp/4103/p2p/${OWNER}`, // rewritten by the parser: not what a node sends
      `/ip4/127.0.0.1/tcp/4104/p2p/${OWNER}/`, // likewise
      'not-a-multiaddr',
      `/ip6/::1/tcp/9/p2p/${OWNER}`
    ], OWNER)
    expect(kept.map((ma) => ma.toString())).toEqual(['/ip4/127.0.0.1/tcp/4101', '/ip4/10.0.0.2/tcp/4101', '/ip6/::1/tcp/9'])
  })

  it('should keep nothing from a list with no usable address', () => {
    expect(parseAdvertisedAddresses(['', '/', `/p2p/${OWNER}`, `/ip4/1.2.3.4/tcp/1/p2p/${OTHER}`], OWNER)).toEqual([])
  })
})
