/**
 * The consensus service's adapter from membership events to the admission loop (`peerHeardFrom`,
 * src/consensus/consensus-service.ts): a view update with a member heard for the first time (`joined`) runs
 * the listener once; other events do not; the unsubscribe it returns is membership's; without membership
 * nothing is heard and unsubscribing is harmless.
 */
import { describe, expect, it } from 'vitest'
import { peerHeardFrom } from '../../src/consensus/consensus-service.js'

type Listener = (view: unknown, events: Array<{ kind: string }>) => void

function fakeMembership (): { subscribe: (l: Listener) => () => void, emit: (...kinds: string[]) => void, listeners: Set<Listener> } {
  const listeners = new Set<Listener>()
  return {
    listeners,
    subscribe: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
    emit: (...kinds) => { for (const l of listeners) l({}, kinds.map((kind) => ({ kind }))) }
  }
}

describe('peerHeardFrom', () => {
  it('should call the listener once per update with a joined member, not for other events, until unsubscribed', () => {
    const membership = fakeMembership()
    let heard = 0
    const unsubscribe = peerHeardFrom(membership)(() => { heard++ })
    membership.emit('suspect', 'recovered', 'dead', 'left', 'removed')
    expect(heard).toBe(0)
    membership.emit('joined', 'joined', 'suspect')
    expect(heard).toBe(1)
    membership.emit('joined')
    expect(heard).toBe(2)
    unsubscribe()
    expect(membership.listeners.size).toBe(0)
    membership.emit('joined')
    expect(heard).toBe(2)
  })

  it('should hear nothing without a membership service, or one that cannot be subscribed to', () => {
    for (const membership of [undefined, {}]) {
      const unsubscribe = peerHeardFrom(membership)(() => { throw new Error('heard') })
      expect(() => { unsubscribe() }).not.toThrow()
    }
  })
})
