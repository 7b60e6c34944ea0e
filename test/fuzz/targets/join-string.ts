/**
 * @module test/fuzz/targets/join-string
 * `decodeJoinString` on untrusted text (an operator pastes it; it may be truncated, stale or forged). The
 * input is the CBOR payload (base64url-encoded behind the prefix) or, when it starts with the prefix, the
 * whole text. Accepted strings must be well typed and round-trip through encodeJoinString.
 */
import { encode } from '@ipld/dag-cbor'
import { decodeJoinString, encodeJoinString } from '../../../src/net/join-string.js'
import { JOIN_STRING_PREFIX } from '../../../src/net/constants.js'
import { damageValue, encodeValue } from '../values.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

const PREFIX = new TextEncoder().encode(JOIN_STRING_PREFIX)

function textOf (input: Uint8Array): string {
  const prefixed = input.length >= PREFIX.length && PREFIX.every((b, i) => input[i] === b)
  return prefixed ? new TextDecoder().decode(input) : JOIN_STRING_PREFIX + Buffer.from(input).toString('base64url')
}

const valid = (key: Uint8Array): Record<string, unknown> => ({
  a: ['/ip4/127.0.0.1/tcp/4101', '/ip6/::1/tcp/4101', '/dns4/node-a.local/tcp/4101'], c: 'cluster-1', k: key
})

export const joinStringTarget: FuzzTarget = {
  name: 'join-string',
  description: 'join string text → decodeJoinString (typed JoinStringInvalidError or a round-tripping JoinInfo)',
  typedErrors: ['JoinStringInvalidError'],
  corpus: (rng) => [encode(valid(rng.bytes(32))), encode({ ...valid(rng.bytes(32)), a: ['/ip4/10.0.0.1/tcp/1/p2p/12D3KooWAbc'] })],
  generate: (rng) => encodeValue(rng, damageValue(rng, valid(rng.bytes(32)))),
  run (input) {
    const info = decodeJoinString(textOf(input))
    invariant(typeof info.clusterId === 'string' && info.clusterId !== '', 'accepted a join string without a cluster id')
    invariant(info.key instanceof Uint8Array && info.key.length === 32, 'accepted a key that is not 32 bytes')
    invariant(info.addresses.every((a) => typeof a === 'string'), () => `accepted a non-string address: ${typeof info.addresses.find((a) => typeof a !== 'string')}`)
    const again = decodeJoinString(encodeJoinString(info))
    invariant(again.clusterId === info.clusterId && again.addresses.join('\n') === info.addresses.join('\n'), 'join string does not round-trip')
  }
}
