/**
 * @module api/sessions
 * Browser sessions for the dashboard. The admin token never goes into a page URL: `revoada dashboard` asks
 * the API (with the token) for a one-time login code, prints `<api>/login?code=…`, and opening it trades
 * the code for an HttpOnly, SameSite=Strict session cookie and redirects to `/dashboard`. A code works
 * once and expires quickly; a session cookie is accepted only for the GET routes the dashboard page loads
 * (SESSION_ROUTE, api/server.ts), so a browser session can watch the node but not change it nor read its
 * secrets.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import {
  LOGIN_CODE_BYTES, LOGIN_CODE_TTL_MS, LOGIN_CODES_MAX, SESSION_COOKIE_PREFIX, SESSION_TTL_MS, SESSIONS_MAX
} from './constants.js'
import { steadyNowMs } from '../util/clock.js'

function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Bounded maps of secret → expiry; the oldest entry goes first when full. */
class ExpiringSecrets {
  private readonly expiresAtMs = new Map<string, number>()
  constructor (private readonly max: number, private readonly ttlMs: number) {}

  mint (nowMs: number): string {
    this.sweep(nowMs)
    while (this.expiresAtMs.size >= this.max) this.expiresAtMs.delete(this.expiresAtMs.keys().next().value as string)
    const secret = randomBytes(LOGIN_CODE_BYTES).toString('base64url')
    this.expiresAtMs.set(secret, nowMs + this.ttlMs)
    return secret
  }

  /** The stored secret equal to `given` and still valid, compared in constant time. */
  find (given: string, nowMs: number): string | undefined {
    this.sweep(nowMs)
    for (const secret of this.expiresAtMs.keys()) if (sameSecret(secret, given)) return secret
    return undefined
  }

  /** True while `secret` (one this map gave out, so no constant-time compare) is held and unexpired. */
  live (secret: string, nowMs: number): boolean {
    const expiry = this.expiresAtMs.get(secret)
    return expiry !== undefined && expiry > nowMs
  }

  delete (secret: string): void {
    this.expiresAtMs.delete(secret)
  }

  private sweep (nowMs: number): void {
    for (const [secret, expiry] of this.expiresAtMs) if (expiry <= nowMs) this.expiresAtMs.delete(secret)
  }
}

/** One-time login codes and the sessions they open. */
export class SessionStore {
  private readonly codes = new ExpiringSecrets(LOGIN_CODES_MAX, LOGIN_CODE_TTL_MS)
  private readonly sessions = new ExpiringSecrets(SESSIONS_MAX, SESSION_TTL_MS)

  /**
   * @param nowMs the clock of the codes' and sessions' time to live: steady, so a wall-clock step forward expires
   * nothing early and a step back extends nothing
   */
  constructor (private readonly nowMs: () => number = steadyNowMs) {}

  /** A new one-time login code. */
  mintLoginCode (): string {
    return this.codes.mint(this.nowMs())
  }

  /** Spends a login code; returns a new session id, or undefined when the code is unknown, used or expired. */
  redeem (code: string): string | undefined {
    const found = this.codes.find(code, this.nowMs())
    if (found === undefined) return undefined
    this.codes.delete(found)
    return this.sessions.mint(this.nowMs())
  }

  /** True when the request's cookies carry a live session of this node. */
  validCookie (cookieHeader: string | undefined): boolean {
    return this.sessionOfCookie(cookieHeader) !== undefined
  }

  /** The id of the live session of this node the request's cookies carry, if any. */
  sessionOfCookie (cookieHeader: string | undefined): string | undefined {
    if (cookieHeader === undefined) return undefined
    for (const part of cookieHeader.split(';')) {
      const [name, value] = part.trim().split('=', 2)
      if (name?.startsWith(SESSION_COOKIE_PREFIX) !== true || value === undefined) continue
      const session = this.sessions.find(value, this.nowMs())
      if (session !== undefined) return session
    }
    return undefined
  }

  /** True until the session `sessionId` expires or is evicted by newer ones (SESSIONS_MAX). */
  isLive (sessionId: string): boolean {
    return this.sessions.live(sessionId, this.nowMs())
  }
}

/** The Set-Cookie value for a session on the API listening at `port` (cookies ignore ports; names don't). */
export function sessionCookie (sessionId: string, port: number): string {
  return `${SESSION_COOKIE_PREFIX}${port}=${sessionId}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(SESSION_TTL_MS / 1000)}`
}
