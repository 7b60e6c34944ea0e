/**
 * @module net/pnet
 * The cluster's private network: libp2p's pnet protocol (the bytes on the wire are those of `@libp2p/pnet`
 * and of go-libp2p/kubo with a `swarm.key`): each side sends a random 24-byte nonce, then every byte in each
 * direction is XORed with the XSalsa20 keystream of (the sender's nonce, the cluster key).
 *
 * Why our own protector instead of `@libp2p/pnet` 3.0.27: that one XORs a whole write buffer in one call of
 * the `xsalsa20` WASM cipher, whose memory (shared by every cipher in the process, 64 MiB at most) then
 * grows to fit it. A grow leaves every other cipher holding a stale view of that memory (length 0), and each
 * of them grows it again on its next call, by the size of that call. Two ciphers of one connection that take
 * turns with 1 MiB messages thus grow the memory by about 1 MiB per turn until `Memory.grow()` throws
 * ("Maximum memory size exceeded", after about 30 content chunks), the connection is aborted, and ciphers
 * with stale views keep failing (the content fetch stall of docs/bench/content.md; also libp2p/js-libp2p#3585,
 * fixed upstream but not released as of 3.0.27). It also never finalizes its ciphers, so each connection
 * ever made keeps two 64-byte slots of that memory for good.
 *
 * Here every cipher call handles at most XOR_CHUNK_BYTES, so the memory never needs to grow (its initial
 * 640 KiB holds the scratch area plus one 64-byte slot per live cipher, up to thousands of connections), and
 * both ciphers are finalized (slot returned, key wiped) when the connection closes. The test
 * test/net/pnet.test.ts shows both, and that we interoperate with `@libp2p/pnet`.
 */
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import type { SendResult } from '@libp2p/utils'
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'

/** One XSalsa20 keystream (the `xsalsa20` package's streaming cipher). */
interface XorCipher {
  update: (input: Uint8Array, output: Uint8Array) => Uint8Array
  finalize: () => void
}
const createXSalsa20 = createRequire(import.meta.url)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => XorCipher

/** Bytes of the nonce each side sends first (XSalsa20's nonce). */
export const PNET_NONCE_BYTES = 24
/** Bytes of the pre-shared key (XSalsa20's key). */
export const PNET_KEY_BYTES = 32
/** Most bytes handed to one cipher call: far below the cipher's initial WASM memory, so it never grows. */
export const XOR_CHUNK_BYTES = 32 * 1024

/** XORs `data` with the cipher's keystream into a new buffer, at most XOR_CHUNK_BYTES per cipher call. */
function xorChunked (cipher: XorCipher, data: Uint8Array | Uint8ArrayList): Uint8Array {
  const output = new Uint8Array(data.byteLength)
  let offset = 0
  for (const buf of data instanceof Uint8Array ? [data] : data) {
    for (let start = 0; start < buf.byteLength; start += XOR_CHUNK_BYTES) {
      const part = buf.subarray(start, Math.min(buf.byteLength, start + XOR_CHUNK_BYTES))
      cipher.update(part, output.subarray(offset, offset + part.byteLength))
      offset += part.byteLength
    }
  }
  return output
}

/**
 * XORs `data` with the cipher's keystream in place (at most XOR_CHUNK_BYTES per cipher call) and returns it.
 * Only for bytes nobody else holds: what the socket just read (a fresh buffer per read). Every byte a
 * connection receives passes here, so not allocating a second copy of it saves the garbage collector work
 * (content chunks are 1 MiB each).
 */
function xorInPlace (cipher: XorCipher, data: Uint8Array | Uint8ArrayList): Uint8Array | Uint8ArrayList {
  const parts: Iterable<Uint8Array> = data instanceof Uint8Array ? [data] : data
  for (const buf of parts) {
    for (let start = 0; start < buf.byteLength; start += XOR_CHUNK_BYTES) {
      const part = buf.subarray(start, Math.min(buf.byteLength, start + XOR_CHUNK_BYTES))
      cipher.update(part, part)
    }
  }
  return data
}

interface XorConnectionInit {
  maConn: MultiaddrConnection
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  key: Uint8Array
}

/** A connection whose bytes are XORed with the two keystreams; both ciphers are finalized once it closes. */
class XorConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection
  private readonly inbound: XorCipher
  private readonly outbound: XorCipher
  private finalized = false

  constructor (init: XorConnectionInit) {
    super({ log: init.maConn.log.newScope('pnet'), remoteAddr: init.maConn.remoteAddr, direction: init.maConn.direction })
    this.maConn = init.maConn
    this.inbound = createXSalsa20(init.remoteNonce, init.key)
    this.outbound = createXSalsa20(init.localNonce, init.key)
    this.maConn.addEventListener('message', (evt) => {
      if (this.finalized) return
      this.onData(xorInPlace(this.inbound, evt.data))
    })
    this.maConn.addEventListener('drain', () => { this.onMuxerDrain() })
    this.maConn.addEventListener('close', (evt) => {
      if (evt.error === undefined) this.onTransportClosed()
      else if (evt.local === true) this.abort(evt.error)
      else this.onRemoteReset()
      this.finalize()
    })
    this.addEventListener('close', () => { this.finalize() })
  }

  /** Returns both cipher slots to the shared pool and wipes the key from them (once). */
  private finalize (): void {
    if (this.finalized) return
    this.finalized = true
    this.inbound.finalize()
    this.outbound.finalize()
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    await this.maConn.close(options)
  }

  sendData (data: Uint8ArrayList): SendResult {
    if (this.finalized) return { sentBytes: data.byteLength, canSendMore: false }
    return { sentBytes: data.byteLength, canSendMore: this.maConn.send(xorChunked(this.outbound, data)) }
  }

  sendReset (err: Error): void {
    this.maConn.abort(err)
  }

  sendPause (): void {
    this.maConn.pause()
  }

  sendResume (): void {
    this.maConn.resume()
  }
}

/** The protector: nonce exchange (bounded by `timeoutMs` unless the caller passes a signal), then XOR. */
class ClusterKeyProtector implements ConnectionProtector {
  constructor (private readonly key: Uint8Array, private readonly timeoutMs: number) {}

  readonly [Symbol.toStringTag] = 'revoada/pnet'

  async protect (connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    const localNonce = new Uint8Array(randomBytes(PNET_NONCE_BYTES))
    const signal = options?.signal ?? AbortSignal.timeout(this.timeoutMs)
    const bytes = byteStream(connection)
    const [remote] = await Promise.all([bytes.read({ bytes: PNET_NONCE_BYTES, signal }), bytes.write(localNonce, { signal })])
    return new XorConnection({ maConn: bytes.unwrap() as MultiaddrConnection, localNonce, remoteNonce: remote.subarray(), key: this.key })
  }
}

/**
 * The connection protector of a cluster (libp2p `connectionProtector`), for its 32-byte key.
 * @throws RangeError when the key is not 32 bytes
 */
export function clusterKeyProtector (key: Uint8Array, timeoutMs: number): () => ConnectionProtector {
  if (key.length !== PNET_KEY_BYTES) throw new RangeError(`a pnet key has ${PNET_KEY_BYTES} bytes, not ${key.length}`)
  const copy = new Uint8Array(key)
  return () => new ClusterKeyProtector(copy, timeoutMs)
}
