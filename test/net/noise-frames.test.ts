/**
 * noise with the splitter reading its messages (src/net/noise-frames.ts, issue 16): every connection noise
 * secures, inbound and outbound, gets it, and data of every size — one byte to several noise messages —
 * crosses in both directions unchanged, also against a peer running unmodified noise.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { noise } from '@libp2p/noise'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { ConnectionEncrypter, MessageStream, StreamMessageEvent } from '@libp2p/interface'
import { fastNoiseFrames, hasNoiseFrameSplitter, noiseFrameSplitterMissing } from '../../src/net/noise-frames.js'
import { transportNoiseCrypto } from '../../src/net/noise-crypto.js'

async function encrypter (patched: boolean): Promise<ConnectionEncrypter> {
  const components = {
    privateKey: await generateKeyPair('Ed25519'),
    logger: defaultLogger(),
    upgrader: { getStreamMuxers: () => new Map() }
  }
  const factory = noise({ crypto: transportNoiseCrypto }) as (c: typeof components) => ConnectionEncrypter
  return patched ? fastNoiseFrames(factory)(components) : factory(components)
}

function received (stream: MessageStream): () => Buffer {
  const chunks: Buffer[] = []
  stream.addEventListener('message', (evt: StreamMessageEvent) => { chunks.push(Buffer.from(evt.data.subarray())) })
  return () => Buffer.concat(chunks)
}

async function until (condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('noise frames', () => {
  for (const [name, inboundPatched] of [['both sides', true], ['against unmodified noise', false]] as const) {
    it(`should read every noise message with the splitter and carry data of every size unchanged (${name})`, async () => {
      const [outbound, inbound] = multiaddrConnectionPair()
      const [a, b] = [await encrypter(true), await encrypter(inboundPatched)]
      const options = { skipStreamMuxerNegotiation: true }
      const [sa, sb] = await Promise.all([a.secureOutbound(outbound, options), b.secureInbound(inbound, options)])
      expect(hasNoiseFrameSplitter(sa.connection)).toBe(true)
      expect(hasNoiseFrameSplitter(sb.connection)).toBe(inboundPatched)
      expect(noiseFrameSplitterMissing).toBe(0)
      const atB = received(sb.connection)
      const atA = received(sa.connection)
      const toB = [1, 100, 1199, 1200, 65_519, 65_520, 200_000].map((n) => randomBytes(n))
      const toA = [3, 5000, 140_000].map((n) => randomBytes(n))
      for (const data of toB) sa.connection.send(data)
      for (const data of toA) sb.connection.send(data)
      const wantB = Buffer.concat(toB)
      const wantA = Buffer.concat(toA)
      await until(() => atB().length >= wantB.length && atA().length >= wantA.length)
      expect(atB().equals(wantB)).toBe(true)
      expect(atA().equals(wantA)).toBe(true)
    })
  }
})
