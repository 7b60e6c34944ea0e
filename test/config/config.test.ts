/**
 * Configuration: defaults, precedence file < env < flags, and errors that name the offending key.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigInvalidError, envToTree, loadConfig } from '../../src/config/index.js'
import { parseNodeState } from '../../src/membership/core/index.js'
import { MAX_LABEL_KEY_CHARS, MAX_LABEL_VALUE_CHARS, MAX_LABELS } from '../../src/membership/core/constants.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []
async function configFile (body: unknown): Promise<string> {
  const d = await tempDir()
  dirs.push(d)
  const file = path.join(d, 'config.json')
  await fs.writeFile(file, typeof body === 'string' ? body : JSON.stringify(body))
  return file
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

function problemsOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigInvalidError)
    return (err as Error).message
  }
  throw new Error('expected ConfigInvalidError')
}

describe('config', () => {
  it('should apply defaults when no source is given', () => {
    const c = loadConfig()
    expect(c.dataDir).toBe('./.revoada')
    expect(c.api).toEqual({ host: '127.0.0.1', port: 0, allowNonLoopback: false })
    expect(c.listen).toBeUndefined()
    expect(c.net.mdns).toBe(false)
    expect(c.raft).toBeUndefined()
  })

  it('should let env override the file and flags override env', async () => {
    const file = await configFile({ logLevel: 'debug', net: { pingIntervalMs: 700, dialTimeoutMs: 900 }, api: { port: 1 } })
    const c = loadConfig({
      file,
      env: { REVOADA_NET__PING_INTERVAL_MS: '500', REVOADA_API__PORT: '2', REVOADA_LISTEN: '/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2' },
      flags: { api: { port: 3 } }
    })
    expect(c.logLevel).toBe('debug')
    expect(c.net.pingIntervalMs).toBe(500)
    expect(c.net.dialTimeoutMs).toBe(900)
    expect(c.api.port).toBe(3)
    expect(c.listen).toEqual(['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'])
  })

  it('should name an unknown key and its source when the file has a typo', async () => {
    const file = await configFile({ net: { pingIntervallMs: 5 } })
    const message = problemsOf(() => loadConfig({ file }))
    expect(message).toContain('net.pingIntervallMs: unknown key')
    expect(message).toContain(file)
  })

  it('should name a "__proto__" key as unknown and leave Object.prototype untouched when a file has one', async () => {
    const file = await configFile('{"__proto__": {"polluted": true, "logLevel": "debug"}}')
    expect(problemsOf(() => loadConfig({ file }))).toMatch(/__proto__: unknown key \(from file/)
    expect(Object.keys(Object.prototype)).toEqual([])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('should name the key when a value is bad', () => {
    expect(problemsOf(() => loadConfig({ env: { REVOADA_LOG_LEVEL: 'loud' } }))).toContain('logLevel')
    expect(problemsOf(() => loadConfig({ flags: { listen: ['not-a-multiaddr'] } }))).toContain('listen.0: not a valid multiaddr')
    expect(problemsOf(() => loadConfig({ env: { REVOADA_BOGUS: '1' } }))).toContain('bogus: unknown key (from environment)')
    // A nice value outside Linux's −20 … 19, or not a whole number.
    expect(problemsOf(() => loadConfig({ flags: { raft: { voterNice: -21 } } }))).toContain('raft.voterNice')
    expect(problemsOf(() => loadConfig({ flags: { raft: { voterNice: 1.5 } } }))).toContain('raft.voterNice')
    expect(loadConfig({ flags: { raft: { voterNice: 0 } } }).raft?.voterNice).toBe(0)
  })

  it('should reject a millisecond setting above 2^31 − 1 with ConfigInvalidError when a timer could not keep it', () => {
    // Node's setTimeout/setInterval fire after 1 ms for a larger delay: a hook killed at once, a loop spinning.
    const tooLong = 2 ** 31
    const cases: Array<[Record<string, Record<string, number>>, string]> = [
      [{ hooks: { timeoutMs: tooLong } }, 'hooks.timeoutMs'],
      [{ materializer: { reconcileIntervalMs: tooLong } }, 'materializer.reconcileIntervalMs'],
      [{ net: { pingIntervalMs: tooLong } }, 'net.pingIntervalMs'],
      [{ raft: { tickMs: tooLong } }, 'raft.tickMs'],
      [{ policy: { stabilizationMs: tooLong } }, 'policy.stabilizationMs'],
      [{ policy: { perNodeIntervalMs: tooLong } }, 'policy.perNodeIntervalMs'],
      [{ content: { gcIntervalMs: tooLong } }, 'content.gcIntervalMs']
    ]
    for (const [flags, key] of cases) {
      expect(problemsOf(() => loadConfig({ flags }))).toContain(`${key}: at most 2147483647 ms (about 24.8 days)`)
    }
    expect(problemsOf(() => loadConfig({ env: { REVOADA_HOOKS__TIMEOUT_MS: String(tooLong) } }))).toContain('hooks.timeoutMs: at most 2147483647 ms')
    expect(loadConfig({ flags: { hooks: { timeoutMs: tooLong - 1 } } }).hooks?.timeoutMs).toBe(tooLong - 1)
    // Counts are not timers: an entry count may exceed it.
    expect(loadConfig({ flags: { raft: { snapshotEveryEntries: tooLong } } }).raft?.snapshotEveryEntries).toBe(tooLong)
  })

  it('should refuse a policy.unlistedDeadMs outside 5 s … 1 h with ConfigInvalidError, and take the bounds', () => {
    // Shorter, a member still starting after a site-wide outage lost its roles; longer, a lost one kept them.
    expect(problemsOf(() => loadConfig({ flags: { policy: { unlistedDeadMs: 4_999 } } }))).toContain('policy.unlistedDeadMs: at least 5000 ms')
    expect(problemsOf(() => loadConfig({ flags: { policy: { unlistedDeadMs: 3_600_001 } } }))).toContain('policy.unlistedDeadMs: at most 3600000 ms')
    expect(problemsOf(() => loadConfig({ env: { REVOADA_POLICY__UNLISTED_DEAD_MS: '0' } }))).toContain('policy.unlistedDeadMs')
    expect(problemsOf(() => loadConfig({ flags: { policy: { unlistedDeadMs: 6_000.5 } } }))).toContain('policy.unlistedDeadMs')
    expect(loadConfig({ flags: { policy: { unlistedDeadMs: 5_000 } } }).policy?.unlistedDeadMs).toBe(5_000)
    expect(loadConfig({ flags: { policy: { unlistedDeadMs: 3_600_000 } } }).policy?.unlistedDeadMs).toBe(3_600_000)
  })

  it('should reject cross-field contradictions when building the config', () => {
    expect(problemsOf(() => loadConfig({ flags: { raft: { electionTicks: 2, heartbeatTicks: 5 } } }))).toContain('raft.electionTicks')
    expect(problemsOf(() => loadConfig({ flags: { net: { redialBackoffMinMs: 10_000, redialBackoffMaxMs: 5 } } }))).toContain('net.redialBackoffMinMs')
    // One of the two alone is judged against the other's default (the node would refuse it only once started).
    expect(problemsOf(() => loadConfig({ flags: { raft: { heartbeatTicks: 5 } } }))).toContain('raft.electionTicks')
    expect(problemsOf(() => loadConfig({ flags: { raft: { electionTicks: 1 } } }))).toContain('raft.electionTicks')
    expect(loadConfig({ flags: { raft: { heartbeatTicks: 2 } } }).raft?.heartbeatTicks).toBe(2)
  })

  it('should refuse a metrics listener on a port above 65535, and count only 127.x.x.x, localhost and [::1] as loopback', () => {
    expect(problemsOf(() => loadConfig({ flags: { metrics: { listen: '127.0.0.1:99999' } } }))).toContain('metrics.listen: port above 65535')
    // A port that is no number is named as such, not as a port above 65535.
    const noPort = problemsOf(() => loadConfig({ flags: { metrics: { listen: '127.0.0.1:http' } } }))
    expect(noPort).toContain('expected HOST:PORT')
    expect(noPort).not.toContain('above 65535')
    expect(problemsOf(() => loadConfig({ flags: { metrics: { listen: '127.example.com:9101' } } }))).toContain('metrics.token')
    expect(loadConfig({ flags: { metrics: { listen: '127.0.0.2:9101' } } }).metrics?.listen).toBe('127.0.0.2:9101')
  })

  it('should refuse labels every peer would drop, at the limits of the heartbeat validator, with ConfigInvalidError', () => {
    // Peers drop a heartbeat with more than 32 labels or a longer key or value: a joiner with such labels was
    // never admitted, a member that restarted with them was judged dead by everyone.
    const labels = (count: number, keyChars = 8, valueChars = 1): Record<string, string> =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i).padEnd(keyChars, 'k'), 'v'.repeat(valueChars)]))
    const refused = (l: Record<string, string>): string => problemsOf(() => loadConfig({ flags: { membership: { labels: l } } }))
    expect(refused(labels(MAX_LABELS + 1))).toContain(`membership.labels: at most ${MAX_LABELS} labels`)
    expect(refused(labels(1, MAX_LABEL_KEY_CHARS + 1))).toContain('membership.labels')
    expect(refused(labels(1, 8, MAX_LABEL_VALUE_CHARS + 1))).toContain('membership.labels')
    // At the limits: taken, and so is a heartbeat carrying them.
    for (const l of [labels(MAX_LABELS), labels(1, MAX_LABEL_KEY_CHARS, MAX_LABEL_VALUE_CHARS)]) {
      expect(loadConfig({ flags: { membership: { labels: l } } }).membership?.labels).toEqual(l)
      const state = {
        nodeId: 'n1', clusterId: 'c1', addresses: [], roles: [], capacity: { cpuMillis: 1, memoryBytes: 1, storageBytes: 1, pods: 1 },
        labels: l, version: '0.1.0', kubernetesVersion: 'v1.31.4', uptimeMs: 0, generation: 1, seq: 1, leaving: false
      }
      expect(parseNodeState(state)?.labels).toEqual(l)
    }
  })

  it('should report a file that is not JSON with its path', async () => {
    const file = await configFile('{ nope')
    expect(() => loadConfig({ file })).toThrow(/config file .*not valid JSON/)
  })

  it('should map nested env names to camel case keys', () => {
    expect(envToTree({ REVOADA_NET__REDIAL_BACKOFF_MAX_MS: '5', OTHER: 'x', REVOADA_JOIN: 'revoada1:abc' }))
      .toEqual({ net: { redialBackoffMaxMs: 5 }, join: 'revoada1:abc' })
  })
})
