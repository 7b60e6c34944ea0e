/**
 * @module net/dial-errors
 * Turns an opaque dial failure into something an operator can act on. A wrong cluster key makes pnet
 * produce garbage, so noise fails or stalls until the dial times out (`EncryptionFailedError` after the
 * address timeout, libp2p-notes §8). To tell that apart from an unreachable host we probe plain TCP: if
 * the port accepts a connection but the handshake failed, the key is the likely culprit.
 */
import { connect } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ClusterKeyProbablyWrongError } from './errors.js'

/** How long the TCP probe may take. */
const TCP_PROBE_TIMEOUT_MS = 1500

const HANDSHAKE_ERROR_NAMES = new Set(['EncryptionFailedError', 'InvalidCryptoExchangeError', 'UnexpectedEOFError',
  'TimeoutError', 'AbortError', 'MuxerUnavailableError', 'ConnectionFailedError'])

function errorNames (err: unknown, depth = 0): string[] {
  if (depth > 4 || typeof err !== 'object' || err === null) return []
  const e = err as { name?: unknown, code?: unknown, cause?: unknown, errors?: unknown }
  const own = [e.name, e.code].filter((x): x is string => typeof x === 'string')
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorNames(x, depth + 1)) : []
  return [...own, ...nested, ...errorNames(e.cause, depth + 1)]
}

/** True when the TCP port at `ma` accepts connections. */
export async function tcpReachable (ma: Multiaddr): Promise<boolean> {
  const parts = ma.getComponents()
  const host = parts.find((c) => c.name === 'ip4' || c.name === 'ip6' || c.name === 'dns4' || c.name === 'dns6' || c.name === 'dns')?.value
  const port = parts.find((c) => c.name === 'tcp')?.value
  if (host === undefined || port === undefined) return false
  return await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port: Number(port) })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(TCP_PROBE_TIMEOUT_MS, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/**
 * Returns a ClusterKeyProbablyWrongError when `err` looks like a handshake failure against a reachable
 * port, otherwise `err` unchanged.
 */
export async function classifyDialError (ma: Multiaddr, err: unknown): Promise<unknown> {
  const names = errorNames(err)
  if (names.some((n) => n === 'ECONNREFUSED' || n === 'EHOSTUNREACH' || n === 'ENETUNREACH')) return err
  if (!names.some((n) => HANDSHAKE_ERROR_NAMES.has(n))) return err
  if (!(await tcpReachable(ma))) return err
  return new ClusterKeyProbablyWrongError(ma.toString(), err)
}
