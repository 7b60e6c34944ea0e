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
 * Here the keystream is libsodium's XSalsa20 (src/net/xsalsa20.ts: native, no shared memory; the WASM cipher
 * stays as the fallback where the binary does not load, called on at most 32 KiB so its memory never needs to
 * grow), and both ciphers are finalized (key wiped, WASM slot returned) when the connection closes. The
 * tests test/net/pnet.test.ts and test/net/xsalsa20.test.ts show this, that both implementations give the
 * same keystream, and that we interoperate with `@libp2p/pnet`.
 */
import { randomBytes } from 'node:crypto'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import type { SendResult } from '@libp2p/utils'
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { createXSalsa20, XSALSA20_KEY_BYTES, XSALSA20_NONCE_BYTES } from './xsalsa20.js'
import { claimOwnedCiphertext } from './noise-crypto.js'
import type { XorCipher, XSalsa20Implementation } from './xsalsa20.js'
import type { LinkActivity, LinkCounter } from './link-monitor.js'

/** Bytes of the nonce each side sends first (XSalsa20's nonce). */
export const PNET_NONCE_BYTES = XSALSA20_NONCE_BYTES
/** Bytes of the pre-shared key (XSalsa20's key). */
export const PNET_KEY_BYTES = XSALSA20_KEY_BYTES
/** Outgoing data up to this size is copied into one buffer, written with one syscall (xorForSend). */
export const PNET_ONE_WRITE_BYTES_MAX = 64 * 1024
/**
 * Noise ciphertext from this size on is XORed in place when the send is larger than PNET_ONE_WRITE_BYTES_MAX;
 * smaller pieces are copied together with their neighbours. A burst of Raft frames (a follower catching up:
 * eight 12 KiB Apps in one send) is one ciphertext piece per frame with a 2-byte prefix between them: in
 * place, each piece and each prefix was a socket write of its own (20 per burst); copied, the burst is one.
 * Content chunks (64 KiB noise messages) keep the in-place path, where the copy would be most of the work.
 */
export const PNET_IN_PLACE_FROM_BYTES = 32 * 1024

/** XORs `data` with the cipher's keystream into one new buffer. */
function xorCopy (cipher: XorCipher, data: Uint8Array | Uint8ArrayList): Uint8Array {
  const output = new Uint8Array(data.byteLength)
  let offset = 0
  for (const buf of data instanceof Uint8Array ? [data] : data) {
    cipher.update(buf, output.subarray(offset, offset + buf.byteLength))
    offset += buf.byteLength
  }
  return output
}

/**
 * XORs outgoing `data` with the cipher's keystream: noise's ciphertext buffers of PNET_IN_PLACE_FROM_BYTES or
 * more that nothing else holds (src/net/noise-crypto.ts) in place, every other run of bytes into one new
 * buffer each. Returns `data`'s bytes in order, as one buffer when nothing could be done in place.
 */
export function xorOutgoing (cipher: XorCipher, data: Uint8ArrayList): Uint8Array | Uint8ArrayList {
  let out: Uint8ArrayList | undefined
  let others = new Uint8ArrayList()
  for (const buf of data) {
    if (buf.byteLength < PNET_IN_PLACE_FROM_BYTES || !claimOwnedCiphertext(buf)) {
      others.append(buf)
      continue
    }
    out ??= new Uint8ArrayList()
    if (others.byteLength > 0) {
      out.append(xorCopy(cipher, others))
      others = new Uint8ArrayList()
    }
    cipher.update(buf, buf)
    out.append(buf)
  }
  if (out === undefined) return xorCopy(cipher, others)
  if (others.byteLength > 0) out.append(xorCopy(cipher, others))
  return out
}

/**
 * XORs what noise hands pnet to send: up to PNET_ONE_WRITE_BYTES_MAX into one new buffer, so that the TCP
 * connection writes it with one syscall (it writes each buffer of a list with its own `socket.write`, and a
 * noise message of a Raft append is three: length prefix, ciphertext, tag — each a syscall and possibly a
 * wake-up of the peer; issue 16). Larger data keeps xorOutgoing's in-place path, where copying a MiB would
 * cost more than the syscalls it saves.
 */
export function xorForSend (cipher: XorCipher, data: Uint8ArrayList): Uint8Array | Uint8ArrayList {
  return data.byteLength <= PNET_ONE_WRITE_BYTES_MAX ? xorCopy(cipher, data) : xorOutgoing(cipher, data)
}

/**
 * XORs `data` with the cipher's keystream in place and returns it.
 * Only for bytes nobody else holds: what the socket just read (a fresh buffer per read). Every byte a
 * connection receives passes here, so not allocating a second copy of it saves the garbage collector work
 * (content chunks are 1 MiB each).
 */
function xorInPlace (cipher: XorCipher, data: Uint8Array | Uint8ArrayList): Uint8Array | Uint8ArrayList {
  for (const buf of data instanceof Uint8Array ? [data] : data) cipher.update(buf, buf)
  return data
}

interface XorConnectionInit {
  maConn: MultiaddrConnection
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  key: Uint8Array
  cipher?: XSalsa20Implementation
  /** Stamps what the connection receives (net/link-monitor.ts pings only connections that received nothing lately). */
  activity?: LinkActivity
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
    this.inbound = createXSalsa20(init.remoteNonce, init.key, init.cipher)
    this.outbound = createXSalsa20(init.localNonce, init.key, init.cipher)
    // Keyed by the raw connection's timeline: libp2p gives the same object to the upgraded connection.
    const activity = init.activity
    const counter: LinkCounter | undefined = activity?.track(init.maConn.timeline)
    this.maConn.addEventListener('message', (evt) => {
      if (this.finalized) return
      if (activity !== undefined && counter !== undefined) counter.lastReceivedMs = activity.nowMs()
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
    return { sentBytes: data.byteLength, canSendMore: this.maConn.send(xorForSend(this.outbound, data)) }
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
  constructor (private readonly key: Uint8Array, private readonly timeoutMs: number, private readonly cipher?: XSalsa20Implementation,
    private readonly activity?: LinkActivity) {}

  readonly [Symbol.toStringTag] = 'revoada/pnet'

  async protect (connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    const localNonce = new Uint8Array(randomBytes(PNET_NONCE_BYTES))
    const signal = options?.signal ?? AbortSignal.timeout(this.timeoutMs)
    const bytes = byteStream(connection)
    const [remote] = await Promise.all([bytes.read({ bytes: PNET_NONCE_BYTES, signal }), bytes.write(localNonce, { signal })])
    return new XorConnection({ maConn: bytes.unwrap() as MultiaddrConnection, localNonce, remoteNonce: remote.subarray(), key: this.key, cipher: this.cipher, activity: this.activity })
  }
}

/**
 * The connection protector of a cluster (libp2p `connectionProtector`), for its 32-byte key. `cipher` picks
 * the XSalsa20 implementation (tests; the default is the native one where it loads); `activity` stamps what
 * each connection receives (net/link-monitor.ts).
 * @throws RangeError when the key is not 32 bytes
 */
export function clusterKeyProtector (key: Uint8Array, timeoutMs: number, cipher?: XSalsa20Implementation, activity?: LinkActivity): () => ConnectionProtector {
  if (key.length !== PNET_KEY_BYTES) throw new RangeError(`a pnet key has ${PNET_KEY_BYTES} bytes, not ${key.length}`)
  const copy = new Uint8Array(key)
  return () => new ClusterKeyProtector(copy, timeoutMs, cipher, activity)
}
