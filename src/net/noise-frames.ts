/**
 * @module net/noise-frames
 * noise (`@libp2p/noise` 17.0.3) with the length-prefixed splitter of src/net/length-prefixed.ts reading its
 * incoming messages (2-byte big-endian lengths), in place of the library's `LengthPrefixedDecoder`.
 *
 * Why: that decoder ends every chunk it receives by calling the length decoder on what is left, usually
 * nothing, which throws a RangeError that it catches: one exception (and its stack trace) per chunk the
 * connection receives, and a read through `Uint8ArrayList.getUint16` per message. `uint16BEDecode` was
 * 1.7–3.6 % of each node's busy time at one client (issue 16; docs/bench/consensus.md). The bytes on the wire
 * do not change: only how the receiving side finds the messages in them.
 *
 * How: the encrypted connection noise returns reads `this.decoder.decode(chunk)` for every chunk and
 * decrypts each message it yields. `fastNoiseFrames` replaces that field on every connection noise secures
 * with an object whose `decode` returns the messages the splitter found (views of the received buffer when a
 * message lies inside one; the socket's buffers are fresh per read, and noise decrypts them in place as it
 * does with the library's decoder). When a connection has no such field (another noise version), it is left
 * as it is and counted in `noiseFrameSplitterMissing`: test/net/noise-frames.test.ts fails on it.
 */
import type { ConnectionEncrypter, MessageStream, SecuredConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { LengthPrefixedSplitter } from './length-prefixed.js'

/** noise's largest message (2-byte length): ciphertext and tag. */
const NOISE_MESSAGE_MAX_BYTES = 0xffff

/** What noise's encrypted connection calls for each chunk it receives. */
interface NoiseDecoder {
  decode: (data: Uint8Array | Uint8ArrayList) => Iterable<Uint8Array | Uint8ArrayList>
}

/** Connections secured without the splitter because noise had no decoder to replace (should stay 0). */
export let noiseFrameSplitterMissing = 0

/** Marks the decoders installed here (tests check a connection has one). */
const installed = new WeakSet<object>()

/** A decoder for noise's connection: the splitter, messages handed back as an array per chunk. */
function splitterDecoder (): NoiseDecoder & { splitter: LengthPrefixedSplitter } {
  let found: Uint8Array[] = []
  const splitter = new LengthPrefixedSplitter('uint16be', NOISE_MESSAGE_MAX_BYTES, (message) => {
    // An empty message cannot hold noise's tag; the library's decoder skipped it, and so does this one.
    if (message.byteLength > 0) found.push(message)
    return true
  })
  const decoder = {
    splitter,
    decode (data: Uint8Array | Uint8ArrayList): Uint8Array[] {
      splitter.push(data)
      const messages = found
      found = []
      return messages
    }
  }
  installed.add(decoder)
  return decoder
}

/** A Uint8ArrayList of whichever copy of the package noise's decoder was built with. */
function isByteList (value: unknown): value is Uint8ArrayList {
  return typeof value === 'object' && value !== null && typeof (value as Uint8ArrayList).byteLength === 'number' &&
    typeof (value as Uint8ArrayList)[Symbol.iterator] === 'function'
}

/**
 * Replaces the decoder of the connection noise returned; true when it had one. The library's decoder may
 * already hold the start of a message: bytes that arrived with the end of the handshake are dispatched to it
 * (a microtask queued when noise's connection was built) before this runs. It yields every whole message at
 * once, so what it holds is less than one message, and the splitter starts with those bytes.
 */
export function installNoiseFrameSplitter (connection: MessageStream): boolean {
  const target = connection as unknown as { decoder?: Partial<NoiseDecoder> & { buffer?: unknown } }
  const held = target.decoder?.buffer
  if (typeof target.decoder?.decode !== 'function' || !isByteList(held)) {
    noiseFrameSplitterMissing++
    return false
  }
  const decoder = splitterDecoder()
  if (held.byteLength > 0) decoder.splitter.push(held)
  target.decoder = decoder
  return true
}

/** Whether `connection` reads its noise messages with the splitter (tests). */
export function hasNoiseFrameSplitter (connection: MessageStream): boolean {
  const decoder = (connection as unknown as { decoder?: object }).decoder
  return decoder !== undefined && installed.has(decoder)
}

/**
 * Wraps noise's factory (`noise({...})`) so that every connection it secures, inbound or outbound, reads
 * its messages with the splitter. The encrypter itself (protocol id, handshake) is unchanged.
 */
export function fastNoiseFrames<C> (factory: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components) => {
    const encrypter = factory(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)
    const patched = async (secured: Promise<SecuredConnection>): Promise<SecuredConnection> => {
      const result = await secured
      installNoiseFrameSplitter(result.connection)
      return result
    }
    encrypter.secureInbound = async (connection, options) => await patched(secureInbound(connection, options))
    encrypter.secureOutbound = async (connection, options) => await patched(secureOutbound(connection, options))
    return encrypter
  }
}
