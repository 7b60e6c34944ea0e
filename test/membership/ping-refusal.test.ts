/**
 * Goal: a suspicion ping that this node refuses to send (libp2p allows one outbound ping stream per
 * connection; its connection monitor's ping may be in flight) does not count as the peer's silence, so the
 * connection is not closed (issue 16: live connections were closed this way in 25-node runs); a ping that
 * timed out or hit a closed stream still does, unless the member's heartbeat came over that connection after
 * the ping was sent (a relayed one does not count: a dead link between two members heard through a third,
 * test/testbed/netns.test.ts).
 */
import { describe, expect, it } from 'vitest'
import { TooManyOutboundProtocolStreamsError, TimeoutError } from '@libp2p/interface'
import { closeAfterFailedPing, isLocalPingRefusal } from '../../src/membership/membership-service.js'
import { directLinkSilent } from '../../src/membership/core/index.js'

describe('suspicion ping failures', () => {
  it('should treat the stream limit libp2p raises as a local refusal and a timeout or EOF as silence', () => {
    expect(isLocalPingRefusal(new TooManyOutboundProtocolStreamsError('Too many outbound protocol streams for protocol "/ipfs/ping/1.0.0" - 2/1'))).toBe(true)
    expect(isLocalPingRefusal(new TimeoutError('The operation was aborted due to timeout'))).toBe(false)
    expect(isLocalPingRefusal(Object.assign(new Error('Unexpected EOF'), { name: 'UnexpectedEOFError' }))).toBe(false)
    expect(isLocalPingRefusal('a string')).toBe(false)
  })

  it('should close a connection whose ping failed unless the member was heard over it after the ping was sent', () => {
    const pingedAtMs = 10_000
    // Never heard straight from it, or only before the ping: a frozen peer or a dead link.
    expect(closeAfterFailedPing({ localRefusal: false, pingedAtMs, heardDirectlyAtMs: undefined })).toBe(true)
    expect(closeAfterFailedPing({ localRefusal: false, pingedAtMs, heardDirectlyAtMs: 9_000 })).toBe(true)
    // A heartbeat straight from it meanwhile: the link works, the peer was slow.
    expect(closeAfterFailedPing({ localRefusal: false, pingedAtMs, heardDirectlyAtMs: 11_000 })).toBe(false)
    // This node refused its own ping: nothing learnt about the peer.
    expect(closeAfterFailedPing({ localRefusal: true, pingedAtMs, heardDirectlyAtMs: undefined })).toBe(false)
  })

  it('should suspect a connection when a relayed heartbeat comes and nothing came straight from the member lately', () => {
    const toleranceMs = 1500
    expect(directLinkSilent(10_000, 11_400, toleranceMs)).toBe(false)
    expect(directLinkSilent(10_000, 11_600, toleranceMs)).toBe(true)
    // Never heard over a connection (just made): left to the suspicion path.
    expect(directLinkSilent(undefined, 11_600, toleranceMs)).toBe(false)
  })
})
