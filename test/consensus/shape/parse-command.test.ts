/**
 * A command's roles and key counts are checked by loops, without filtered lists, Sets or key arrays (issue
 * 16: every command of every entry is parsed on every node): the same commands are accepted and refused.
 */
import { describe, expect, it } from 'vitest'
import { decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid } from '../../../src/consensus/shape/core/index.js'

describe('a command\'s roles and keys, parsed without intermediate lists (issue 16)', () => {
  const envelope = (command: unknown): Uint8Array => encodeSignedProposal(envelopeBytesAndCid({ v: 1, clusterId: 'c', command, reason: 'operator', proposer: 'n1', proposalId: { clientId: 'x', seq: 1 }, proposedAtMs: 1 } as never).bytes, new Uint8Array(64))
  const commandOf = (command: unknown): unknown => (decodeSignedProposal(envelope(command))?.envelope as { command?: unknown } | undefined)?.command ?? null

  it('should take distinct control-plane roles, and the optional keys only when present', () => {
    expect(commandOf({ kind: 'promote', nodeId: 'b', roles: ['scheduler', 'etcd'] })).toEqual({ kind: 'promote', nodeId: 'b', roles: ['scheduler', 'etcd'] })
    expect(commandOf({ kind: 'demote', nodeId: 'b', roles: ['etcd'], pin: true })).toEqual({ kind: 'demote', nodeId: 'b', roles: ['etcd'], pin: true })
    expect(commandOf({ kind: 'promote', nodeId: 'b', roles: ['etcd'], with: ['c'] })).toEqual({ kind: 'promote', nodeId: 'b', roles: ['etcd'], with: ['c'] })
  })

  it('should refuse a repeated or unknown role, and a key too many', () => {
    expect(commandOf({ kind: 'promote', nodeId: 'b', roles: ['etcd', 'etcd'] })).toBeNull()
    expect(commandOf({ kind: 'promote', nodeId: 'b', roles: ['etcd', 'worker'] })).toBeNull()
    expect(commandOf({ kind: 'demote', nodeId: 'b', roles: ['etcd'], extra: 1 })).toBeNull()
    expect(commandOf({ kind: 'quarantine', nodeId: 'b', roles: ['etcd'] })).toBeNull()
  })
})
