/**
 * What `revoada recover-quorum` says when it ends: the voters as they are (a resumed run may find others than this
 * node), and a run whose record outlived its work says it changed nothing rather than "quorum recovered".
 */
import { describe, expect, it } from 'vitest'
import { endMessage } from '../../src/consensus/quorum-recovery-run.js'

describe('quorum recovery end message', () => {
  it('should call this node the only voter only when it is', () => {
    expect(endMessage('s', ['s'], 42, 3)).toContain('quorum recovered: s is the only voter')
    const shared = endMessage('s', ['s', 'x', 'y'], 42, 1)
    expect(shared).toContain('quorum recovered: the voters are s, x, y')
    expect(shared).not.toContain('only voter')
    expect(endMessage('s', ['x'], 42, 1)).not.toContain('only voter')
  })

  it('should say a run that changed nothing found the recovery ended', () => {
    const m = endMessage('s', ['s'], 42, 0)
    expect(m).toContain('quorum recovery had already ended')
    expect(m).not.toContain('quorum recovered')
  })
})
