/**
 * Goal: a suspicion ping that this node refuses to send (libp2p allows one outbound ping stream per
 * connection; another ping stream may be in flight) does not count as the peer's silence, so the
 * connection is not closed (issue 16: live connections were closed this way in 25-node runs); a ping that
 * timed out or hit a closed stream still does.
 */
import { describe, expect, it } from 'vitest'
import { TooManyOutboundProtocolStreamsError, TimeoutError } from '@libp2p/interface'
import { isLocalPingRefusal } from '../../src/net/link-monitor.js'

describe('suspicion ping failures', () => {
  it('should treat the stream limit libp2p raises as a local refusal and a timeout or EOF as silence', () => {
    expect(isLocalPingRefusal(new TooManyOutboundProtocolStreamsError('Too many outbound protocol streams for protocol "/ipfs/ping/1.0.0" - 2/1'))).toBe(true)
    expect(isLocalPingRefusal(new TimeoutError('The operation was aborted due to timeout'))).toBe(false)
    expect(isLocalPingRefusal(Object.assign(new Error('Unexpected EOF'), { name: 'UnexpectedEOFError' }))).toBe(false)
    expect(isLocalPingRefusal('a string')).toBe(false)
  })
})
