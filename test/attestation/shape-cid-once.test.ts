/**
 * The shape's CID is computed once per applied shape on a node (issue 16, apply path): the chain block of
 * an entry records it, and the status, dashboard and materializer readers of ShapeMachine.shapeCid() reuse
 * it. The CID is the canonical one either way (cidOfValue of the shape's data).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { cidOfValue, CID } from '../../src/codec/index.js'
import { MeshShape } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'
import { decodeBlock } from '../../src/attestation/core/index.js'
import { ChainBuilder, makeNodes } from './helpers.js'

afterEach(() => { vi.restoreAllMocks() })

describe('shape CID per applied entry', () => {
  it('should encode each applied shape once: its block and shapeCid() share the canonical CID', async () => {
    const [n0, n1] = await makeNodes(2)
    const b = new ChainBuilder('cluster-a')
    const encodings = vi.spyOn(MeshShape.prototype, 'toData')
    const commands: Command[] = [
      { kind: 'bootstrap', nodeId: n0!.id },
      { kind: 'add-member', nodeId: n1!.id },
      { kind: 'promote', nodeId: n1!.id, roles: ['scheduler'] },
      { kind: 'demote', nodeId: n1!.id, roles: ['scheduler'] }
    ]
    for (const command of commands) {
      expect(b.propose(n0!, command).outcome.kind).toBe('applied')
      const afterApply = encodings.mock.calls.length
      const text = b.shape.shapeCid()
      expect(encodings.mock.calls.length).toBe(afterApply)
      const block = decodeBlock(b.blocks[b.blocks.length - 1]!)
      expect(block?.kind === 'proposal' ? CID.decode(block.shape).toString() : undefined).toBe(text)
      expect(text).toBe(cidOfValue(b.shape.shape.toData()).toString())
    }
  })
})
