/**
 * The address a member is reached at comes from the multiaddrs in its own heartbeat: peer input, checked only
 * as short strings there. What `pickAddress` returns is rendered into other nodes' manifests (etcd's
 * `--initial-cluster`, the api-server endpoints), so it must be an IP literal and nothing else.
 * Red before: any text up to the next `/` was taken, so `/ip4/10.0.0.9,x=https:` added a member to a promoted
 * node's `--initial-cluster`, and `/ip4/evil.example` named a host.
 */
import { describe, expect, it } from 'vitest'
import { pickAddress } from '../../src/materializer/addresses.js'

describe('pickAddress', () => {
  it('should take the first routable IP, else a loopback one, and never an unspecified one', () => {
    expect(pickAddress(['/ip4/127.0.0.1/tcp/1', '/ip4/0.0.0.0/tcp/1', '/ip4/10.0.0.2/tcp/1'])).toBe('10.0.0.2')
    expect(pickAddress(['/ip6/::/tcp/1', '/ip6/::1/tcp/1'])).toBe('::1')
    expect(pickAddress(['/ip6/fd00::5/tcp/1'])).toBe('fd00::5')
    expect(pickAddress(['/dns4/example.com/tcp/1'])).toBeUndefined()
  })

  it('should skip an address whose IP part is not an IP literal of its protocol', () => {
    expect(pickAddress([
      '/ip4/10.0.0.9,x=https:', // would add a member to etcd's --initial-cluster
      '/ip4/evil.example/tcp/1',
      '/ip4/fd00::1/tcp/1', // an IPv6 literal under ip4
      '/ip6/10.0.0.3/tcp/1', // and the reverse
      '/ip4/10.0.0.4 /tcp/1',
      '/ip4/10.0.0.5/tcp/1'
    ])).toBe('10.0.0.5')
    expect(pickAddress(['/ip4/127.0.0.1,x=https:'])).toBeUndefined()
  })
})
