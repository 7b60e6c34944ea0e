/**
 * @module net/dial-errors
 * Turns an opaque dial failure into something an operator can act on. A wrong cluster key makes pnet
 * produce garbage, so noise fails or stalls until the dial times out (`EncryptionFailedError` after the
 * address timeout, libp2p-notes §8). To tell that apart we probe plain TCP: a refused port is an unreachable
 * host; a port that accepts and sends its pnet nonce is a node, so the key is the likely culprit; a port that
 * accepts and stays silent is a busy or starved peer (a seed whose accept queue its process does not drain,
 * issue 16), not a key problem.
 */
import { connect } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ClusterKeyProbablyWrongError, PeerNotAnsweringError } from './errors.js'

/** How long the TCP probe's connect may take. */
const TCP_PROBE_TIMEOUT_MS = 1500
/** How long the probe waits for the peer's first byte (its pnet nonce) once connected. */
const TCP_PROBE_ANSWER_MS = 1500

const HANDSHAKE_ERROR_NAMES = new Set(['EncryptionFailedError', 'InvalidCryptoExchangeError', 'UnexpectedEOFError',
  'TimeoutError', 'AbortError', 'MuxerUnavailableError', 'ConnectionFailedError'])

function errorNames (err: unknown, depth = 0): string[] {
  if (depth > 4 || typeof err !== 'object' || err === null) return []
  const e = err as { name?: unknown, code?: unknown, cause?: unknown, errors?: unknown }
  const own = [e.name, e.code].filter((x): x is string => typeof x === 'string')
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorNames(x, depth + 1)) : []
  return [...own, ...nested, ...errorNames(e.cause, depth + 1)]
}

/**
 * Whether a failed dial was refused on every address it tried (ECONNREFUSED: nothing listens on the port). A
 * frozen, stopped or starved process still accepts TCP (the kernel completes the handshake), so only a process
 * that is gone — or never listened there — refuses; a timeout, an abort or a failed handshake is not a refusal.
 * An aggregate of per-address failures is a refusal only when each of them is.
 */
export function refusedEverywhere (err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown, message?: unknown, cause?: unknown, errors?: unknown }
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every((x) => refusedEverywhere(x, depth + 1))
  if (e.code === 'ECONNREFUSED') return true
  if (typeof e.message === 'string' && /\bconnect ECONNREFUSED\b/.test(e.message)) return true
  return refusedEverywhere(e.cause, depth + 1)
}

/** What a plain TCP connection to a peer's port shows: refused, accepted but silent, or accepted and talking. */
export type TcpProbe = 'unreachable' | 'silent' | 'answers'

/**
 * Connects to `ma` and waits up to `answerMs` for a first byte. A libp2p node of any cluster sends its pnet
 * nonce as soon as it accepts a connection; one that accepts (the kernel completes the TCP handshake even
 * while the process does not call accept) and sends nothing is busy, starved or not a cluster node.
 */
export async function probeTcp (ma: Multiaddr, answerMs = TCP_PROBE_ANSWER_MS): Promise<TcpProbe> {
  const parts = ma.getComponents()
  const host = parts.find((c) => c.name === 'ip4' || c.name === 'ip6' || c.name === 'dns4' || c.name === 'dns6' || c.name === 'dns')?.value
  const port = parts.find((c) => c.name === 'tcp')?.value
  if (host === undefined || port === undefined) return 'unreachable'
  return await new Promise<TcpProbe>((resolve) => {
    const socket = connect({ host, port: Number(port) })
    let connected = false
    const done = (result: TcpProbe): void => { socket.destroy(); resolve(result) }
    socket.setTimeout(TCP_PROBE_TIMEOUT_MS, () => { if (!connected) done('unreachable') })
    socket.once('connect', () => {
      connected = true
      socket.setTimeout(0)
      const timer = setTimeout(() => { done('silent') }, answerMs)
      socket.once('data', () => { clearTimeout(timer); done('answers') })
      socket.once('close', () => { clearTimeout(timer); done('silent') })
    })
    socket.once('error', () => { done(connected ? 'silent' : 'unreachable') })
  })
}

/**
 * Returns a ClusterKeyProbablyWrongError when `err` looks like a handshake failure against a port that answers
 * (a node sends its pnet nonce, whatever its key), a PeerNotAnsweringError when the port accepts but stays
 * silent (a starved seed: 17 of a 50-node run's dial failures were blamed on the key, docs/bench/scale.md),
 * otherwise `err` unchanged.
 */
export async function classifyDialError (ma: Multiaddr, err: unknown): Promise<unknown> {
  const names = errorNames(err)
  if (names.some((n) => n === 'ECONNREFUSED' || n === 'EHOSTUNREACH' || n === 'ENETUNREACH')) return err
  if (!names.some((n) => HANDSHAKE_ERROR_NAMES.has(n))) return err
  const probe = await probeTcp(ma)
  if (probe === 'unreachable') return err
  if (probe === 'silent') return new PeerNotAnsweringError(ma.toString(), err)
  return new ClusterKeyProbablyWrongError(ma.toString(), err)
}
