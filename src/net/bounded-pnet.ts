/**
 * @module net/bounded-pnet
 * @libp2p/pnet (3.0.27) with two defects of its cipher, the `xsalsa20` package (1.2.0, WebAssembly), kept
 * out of reach. Found by the fault suite: a node died with `RangeError: WebAssembly.Memory.grow(): Maximum
 * memory size exceeded`, thrown from a socket event.
 * - The cipher's memory is one WebAssembly memory shared by every connection, 640 KiB at first and capped at
 *   1,000 pages (62.5 MiB). A write larger than the memory grows it; every other connection's cached view
 *   of it is then stale (length 0), so its next write grows the memory again, and so on — about 64 KiB per
 *   write — until the cap is hit and the process dies. pnet hands the cipher its whole write buffer at
 *   once, so one burst of ~600 KiB queued behind a full socket (a follower catching up) started it. Here a
 *   protected connection hands it at most PNET_CHUNK_BYTES per call, so the memory never grows.
 * - pnet never finalizes its two ciphers, so each connection kept 128 bytes of that memory for good, and
 *   after ~5,000 connections the same growth started. Here both are finalized when the connection closes.
 */
import { preSharedKey } from '@libp2p/pnet'
import type { AbortOptions, ConnectionProtector, MessageStream } from '@libp2p/interface'
import { PNET_CHUNK_BYTES } from './constants.js'

interface Cipher { update: (input: Uint8Array) => Uint8Array, finalize: () => void }
/** The fields of pnet's BoxMessageStream this module relies on (checked at run time). */
interface BoxFields { maxMessageSize?: number, inboundXor?: Cipher, outboundXor?: Cipher }

/** Stands in for a finalized cipher: a closed connection has nothing left to encrypt or decrypt. */
const CLOSED: Cipher = { update: (input) => new Uint8Array(input.length), finalize: () => {} }

export function boundedPreSharedKey (init: Parameters<typeof preSharedKey>[0]): () => ConnectionProtector {
  const make = preSharedKey(init)
  return () => {
    const inner = make()
    return {
      [Symbol.toStringTag]: '@revoada/bounded-pnet',
      async protect (connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
        const box = await inner.protect(connection, options)
        bound(box)
        return box
      }
    }
  }
}

function bound (box: MessageStream): void {
  const fields = box as unknown as BoxFields
  // A pnet upgrade that renamed these would silently bring the crash back: refuse to run instead.
  if (fields.inboundXor === undefined || fields.outboundXor === undefined || !('maxMessageSize' in box)) {
    throw new Error('@libp2p/pnet changed: its BoxMessageStream no longer has inboundXor/outboundXor/maxMessageSize (see net/bounded-pnet.ts)')
  }
  fields.maxMessageSize = PNET_CHUNK_BYTES
  box.addEventListener('close', () => {
    const ciphers = [fields.inboundXor, fields.outboundXor]
    fields.inboundXor = CLOSED
    fields.outboundXor = CLOSED
    for (const cipher of ciphers) cipher?.finalize()
  }, { once: true })
}
