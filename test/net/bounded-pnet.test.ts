/**
 * The pnet wrapper against the two defects of the `xsalsa20` cipher it carries (net/bounded-pnet.ts): one
 * large write must not grow the cipher's shared WebAssembly memory (past 62.5 MiB it kills the process), and
 * closed connections must give their cipher state back. Both run on an in-memory connection pair, so what
 * is measured is the protector alone.
 */
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { generateKey } from '@libp2p/pnet'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { MessageStream } from '@libp2p/interface'
import { boundedPreSharedKey } from '../../src/net/bounded-pnet.js'

// The cipher package pnet uses; a fresh instance's slot shows how much of its shared memory is taken.
const XSalsa20 = createRequire(import.meta.url)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => { _xor: { _pointer: number }, finalize: () => void }
const nextSlot = (): number => { const probe = XSalsa20(new Uint8Array(24), new Uint8Array(32)); const slot = probe._xor._pointer; probe.finalize(); return slot }

function swarmKey (): Uint8Array {
  const key = new Uint8Array(95)
  generateKey(key)
  return key
}

async function protectedPair (psk: Uint8Array): Promise<[MessageStream, MessageStream]> {
  const protector = boundedPreSharedKey({ psk })()
  const [a, b] = multiaddrConnectionPair()
  return await Promise.all([protector.protect(a), protector.protect(b)]) as [MessageStream, MessageStream]
}

describe('bounded pnet', () => {
  it('should carry a 64 MiB write intact, where the bare cipher dies growing its memory', async () => {
    const [a, b] = await protectedPair(swarmKey())
    const payload = new Uint8Array(64 * 1024 * 1024)
    for (let i = 0; i < payload.length; i += 4096) payload[i] = (i / 4096) & 0xff
    const chunks: Uint8Array[] = []
    let received = 0
    const all = new Promise<void>((resolve) => {
      b.addEventListener('message', (evt) => {
        const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
        chunks.push(data)
        received += data.length
        if (received >= payload.length) resolve()
      })
    })
    expect(() => a.send(payload)).not.toThrow()
    await all
    expect(Buffer.concat(chunks).equals(Buffer.from(payload))).toBe(true)
    await Promise.all([a.close(), b.close()])
  })

  it('should give the cipher state of closed connections back, so many connections over time do not grow it', async () => {
    const psk = swarmKey()
    const before = nextSlot()
    for (let i = 0; i < 100; i++) {
      const [a, b] = await protectedPair(psk)
      a.abort(new Error('done'))
      b.abort(new Error('done'))
    }
    // 100 pairs hold 400 ciphers of 64 bytes each; all returned, a new one reuses a slot near the start.
    expect(nextSlot()).toBeLessThanOrEqual(before + 64 * 4)
  })
})
