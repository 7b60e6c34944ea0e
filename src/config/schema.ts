/**
 * @module config/schema
 * The one zod schema of the node configuration. Every object is strict, so an unknown key is an error that
 * names it. Cross-field rules are checked here too (STYLE §14: validate once, at the edge).
 *
 * Adding a section for a later layer: define `xSection = z.strictObject({...}).optional()` with defaults on
 * each field (comment each with its unit and default), add it to `configSchema` below, and read
 * `config.x?.field ?? X_DEFAULT` or `parseSection` in your layer. Optional sections keep old config files valid.
 */
import { isIP } from 'node:net'
import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import { LOG_LEVELS } from '../log/index.js'
import { PROTOCOL_LEVEL, PROTOCOL_LEVEL_MIN } from '../consensus/shape/core/protocol.js'
import { ELECTION_TICKS_DEFAULT, HEARTBEAT_TICKS_DEFAULT } from '../consensus/constants.js'
import { MAX_LABEL_KEY_CHARS, MAX_LABEL_VALUE_CHARS, MAX_LABELS } from '../membership/core/constants.js'
import { UNLISTED_DEAD_MS_MAX, UNLISTED_DEAD_MS_MIN } from '../policy/core/constants.js'
import {
  DEFAULT_API_HOST, DEFAULT_API_PORT, DEFAULT_DATA_DIR, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_LISTEN,
  DEFAULT_PING_INTERVAL_MS, DEFAULT_PING_TIMEOUT_MS, DEFAULT_REDIAL_BACKOFF_MAX_MS, DEFAULT_REDIAL_BACKOFF_MIN_MS,
  DEFAULT_REDIAL_INTERVAL_MS, TIMER_MS_MAX
} from './constants.js'

const TIMER_MS_MESSAGE = `at most ${TIMER_MS_MAX} ms (about 24.8 days): Node's timers fire at once for a longer delay`
/** A delay or period in ms that reaches a timer: 0 … TIMER_MS_MAX. */
const timerMs = z.number().int().min(0).max(TIMER_MS_MAX, { message: TIMER_MS_MESSAGE })
/** A delay or period in ms that reaches a timer: 1 … TIMER_MS_MAX. */
const positiveMs = timerMs.positive()
/** A positive whole count (ticks, entries): not a timer delay, so not held to TIMER_MS_MAX. */
const positiveCount = z.number().int().positive()

/** A string that parses as a multiaddr. */
const multiaddrString = z.string().refine((s) => {
  try { multiaddr(s); return true } catch { return false }
}, { message: 'not a valid multiaddr' })

/** Env vars and flags may give a list as one comma-separated string. */
const stringList = <T extends z.ZodType>(item: T): z.ZodType<z.output<T>[]> =>
  z.preprocess((v) => typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v,
    z.array(item)) as unknown as z.ZodType<z.output<T>[]>

/** Admin HTTP API. */
export const apiSection = z.strictObject({
  /**
   * Bind host; an IPv6 address may be given in brackets, as in `metrics.listen` (`[::1]`), and is bound without
   * them: getaddrinfo knows no "[::1]", so the start failed with ENOTFOUND. @default '127.0.0.1'
   */
  host: z.string().min(1).transform((host) => /^\[[^\]]+\]$/.test(host) ? host.slice(1, -1) : host).default(DEFAULT_API_HOST),
  /** Bind port; 0 picks a free one. @default 0 */
  port: z.number().int().min(0).max(65535).default(DEFAULT_API_PORT),
  /** Must be true to bind a non-loopback host: the API controls the node. @default false */
  allowNonLoopback: z.boolean().default(false)
})

/** libp2p tuning. */
export const netSection = z.strictObject({
  /** mDNS discovery on the LAN. @default false */
  mdns: z.boolean().default(false),
  /** Link monitor round in ms: a connection that received nothing since the last round is pinged. @default 10000 */
  pingIntervalMs: positiveMs.default(DEFAULT_PING_INTERVAL_MS),
  /** Timeout in ms of the link monitor's pings; a ping not answered in time closes the connection. @default 10000 */
  pingTimeoutMs: positiveMs.default(DEFAULT_PING_TIMEOUT_MS),
  /** Redial loop period in ms. @default 1000 */
  redialIntervalMs: positiveMs.default(DEFAULT_REDIAL_INTERVAL_MS),
  /** First backoff after a failed dial, in ms. @default 500 */
  redialBackoffMinMs: positiveMs.default(DEFAULT_REDIAL_BACKOFF_MIN_MS),
  /** Backoff cap in ms. @default 15000 */
  redialBackoffMaxMs: positiveMs.default(DEFAULT_REDIAL_BACKOFF_MAX_MS),
  /** Time allowed for one dial (TCP + pnet + noise + yamux) in ms. @default 20000 */
  dialTimeoutMs: positiveMs.default(DEFAULT_DIAL_TIMEOUT_MS)
}).refine((n) => n.redialBackoffMinMs <= n.redialBackoffMaxMs, {
  message: 'redialBackoffMinMs must be <= redialBackoffMaxMs', path: ['redialBackoffMinMs']
})

/** Raft timing, for the consensus layer (issue 3+). All optional; the consensus layer owns the defaults. */
export const raftSection = z.strictObject({
  /** Wall-clock length of one Raft tick in ms. */
  tickMs: positiveMs.optional(),
  /** Election timeout in ticks (randomised in [n, 2n)). */
  electionTicks: positiveCount.optional(),
  /** Leader heartbeat period in ticks. */
  heartbeatTicks: positiveCount.optional(),
  /** Take a snapshot and compact the log every this many applied entries. */
  snapshotEveryEntries: positiveCount.optional(),
  /** Entries kept behind a snapshot for slow followers. */
  retainEntries: z.number().int().min(0).optional(),
  /** How long a proposal or read waits to be applied before it fails with a timeout, in ms. */
  operationTimeoutMs: positiveMs.optional(),
  /**
   * Nice value of a voter's event-loop thread (−20 highest … 19 lowest) while it is a voter; 0 leaves a
   * process started at nice 0 as it is. Raising needs CAP_SYS_NICE (root) or a large enough RLIMIT_NICE (consensus/voter-priority.ts). @default -5
   */
  voterNice: z.number().int().min(-20).max(19).optional()
  // One of the two given alone is judged against the other's default: the node would refuse it at start.
}).refine((r) => (r.electionTicks ?? ELECTION_TICKS_DEFAULT) > (r.heartbeatTicks ?? HEARTBEAT_TICKS_DEFAULT),
  { message: `electionTicks must be > heartbeatTicks (defaults ${ELECTION_TICKS_DEFAULT} and ${HEARTBEAT_TICKS_DEFAULT})`, path: ['electionTicks'] })

/** Membership / failure detection, for the membership layer. All optional; that layer owns the defaults. */
export const membershipSection = z.strictObject({
  /** Gossip heartbeat period in ms. */
  heartbeatIntervalMs: positiveMs.optional(),
  /** Phi-accrual suspicion threshold. */
  phiThreshold: z.number().positive().optional(),
  /** Ring neighbours on each side a tiered observer stays connected to, besides the voters (docs/MEMBERSHIP.md). */
  observerRingNeighbours: z.number().int().min(1).max(16).optional(),
  /**
   * Labels this node advertises (zone, rack, free-form); the policy spreads roles across zones. Held to the
   * limits every peer's heartbeat validator applies (membership/core/validate.ts): beyond them no peer would
   * take this node's heartbeats, so a joiner would never be admitted and a member would be judged dead. The
   * heartbeat's encoded size (MAX_HEARTBEAT_BYTES) is checked when membership starts.
   */
  labels: z.record(z.string().min(1).max(MAX_LABEL_KEY_CHARS), z.string().max(MAX_LABEL_VALUE_CHARS))
    .refine((labels) => Object.keys(labels).length <= MAX_LABELS, {
      message: `at most ${MAX_LABELS} labels: every peer drops a heartbeat with more`
    }).optional(),
  /** Kubernetes version this node runs (advertised). */
  kubernetesVersion: z.string().min(1).max(64).optional()
})

/** The policy engine (issue 5). All optional; the policy layer owns the defaults. */
export const policySection = z.strictObject({
  /** Run the engine (it acts only on the leader). @default true */
  enabled: z.boolean().optional(),
  /**
   * Which policy shapes the cluster: `auto-replacement` (keep the target topology's counts) or a formation
   * strategy (solo, pair, quorum-3m, cluster-3m-nw, mesh-all-peers, phalanx). @default 'auto-replacement'
   */
  strategy: z.enum(['auto-replacement', 'solo', 'pair', 'quorum-3m', 'cluster-3m-nw', 'mesh-all-peers', 'phalanx']).optional(),
  /** Audit timer period in ms. @default 30000 */
  auditIntervalMs: positiveMs.optional(),
  /** A node must be alive this long before it is promoted, in ms. @default 10000 */
  stabilizationMs: timerMs.optional(),
  /** At most one role change per node per this many ms. @default 60000 */
  perNodeIntervalMs: timerMs.optional(),
  /** At most this many role changes per window, cluster-wide. @default 10 */
  clusterMaxChanges: z.number().int().positive().optional(),
  /** The cluster-wide window in ms. @default 60000 */
  clusterWindowMs: positiveMs.optional(),
  /**
   * A member of the shape the leader's membership view never lists counts as dead this long after the leader
   * first missed it, in ms (docs/POLICY.md): 5000 … 3600000. @default 60000
   */
  unlistedDeadMs: z.number().int().min(UNLISTED_DEAD_MS_MIN, { message: `at least ${UNLISTED_DEAD_MS_MIN} ms: a member still starting would lose its roles` })
    .max(UNLISTED_DEAD_MS_MAX, { message: `at most ${UNLISTED_DEAD_MS_MAX} ms (an hour): a lost holder would keep its roles through the outage` }).optional()
})

/** The materializer (issue 15): this node's roles as static-pod manifests. All optional. */
export const materializerSection = z.strictObject({
  /** Run the materializer. @default true */
  enabled: z.boolean().optional(),
  /** The static-pod directory (kubelet's `staticPodPath`, /etc/kubernetes/manifests on a real host). @default '<data-dir>/manifests' */
  manifestDir: z.string().min(1).optional(),
  /** The IP other machines reach this node at, rendered as `node.address`. @default the first routable IP this node announces */
  advertiseAddress: z.string().min(1).max(64).refine((s) => isIP(s) !== 0, { message: 'not an IP address' }).optional(),
  /** Kubernetes version rendered into component images. @default membership.kubernetesVersion ?? 'v1.31.4' */
  kubernetesVersion: z.string().regex(/^v?[0-9A-Za-z.+-]{1,63}$/).optional(),
  /** etcd image tag. @default '3.5.16-0' */
  etcdVersion: z.string().regex(/^[0-9A-Za-z.+-]{1,63}$/).optional(),
  /** Reconcile period without changes, in ms. @default 10000 */
  reconcileIntervalMs: positiveMs.optional()
})

/** Executables run when this node gains or loses a control-plane role (issue 15). All optional. */
export const hooksSection = z.strictObject({
  /** Run with ROLE, NODE_ID, SHAPE_CID, INDEX after the manifest of a gained role is written. */
  onPromote: z.string().min(1).optional(),
  /** Run with the same variables after the manifest of a lost role is removed. */
  onDemote: z.string().min(1).optional(),
  /** A hook is killed after this many ms (and retried with backoff). @default 30000 */
  timeoutMs: positiveMs.optional()
})

/** Prometheus metrics (src/metrics). */
export const metricsSection = z.strictObject({
  /**
   * `host:port` of a scrape-only listener that serves `GET /metrics` and nothing else (port 0 = a free
   * one). Unset: metrics are served on the admin API only. @default undefined
   */
  listen: z.string().regex(/^(?:\[[^\]]+\]|[^:]+):\d{1,5}$/, 'expected HOST:PORT')
    // Judged only on a HOST:PORT the regex took: a text without a numeric port got both messages.
    .refine((l) => !(Number(l.slice(l.lastIndexOf(':') + 1)) > 65535), 'port above 65535').optional(),
  /**
   * Bearer token the scrape listener requires; it opens that listener only. No surrounding whitespace nor control
   * characters: an HTTP header cannot carry them (the parser trims the value), so no scraper could match such a
   * token and every scrape was refused. @default undefined
   */
  token: z.string().min(16).max(256)
    // eslint-disable-next-line no-control-regex
    .refine((t) => t === t.trim() && !/[\x00-\x08\x0a-\x1f\x7f]/.test(t), 'no surrounding whitespace nor control characters: an HTTP header cannot carry them')
    .optional()
}).refine((m) => m.listen === undefined || m.token !== undefined || /^(?:127(?:\.\d{1,3}){3}:|localhost:|\[::1\]:)/.test(m.listen), {
  message: 'a non-loopback metrics.listen needs metrics.token', path: ['token']
})

/** The attestation chain (issue 14, docs/CHAIN.md). */
export const attestationSection = z.strictObject({
  /** Derive, witness and seal the chain. Every node of a cluster must agree: the chain is replicated state. @default true */
  enabled: z.boolean().optional(),
  /** Witness the head at most this often (only when it moved), in ms. @default 1000 */
  sealIntervalMs: z.number().int().min(50).max(3_600_000).optional()
})

/** The content layer (issue 13). All optional; the content layer owns the defaults. */
export const contentSection = z.strictObject({
  /** Most bytes the content store may hold. @default 20 GiB */
  quotaBytes: z.number().int().positive().optional(),
  /** Unpinned content is collected this long after its last use, in ms. @default 86400000 (24 h) */
  retentionMs: z.number().int().min(0).optional(),
  /** Garbage collection period in ms. @default 600000 */
  gcIntervalMs: positiveMs.optional()
})

/** The whole node configuration, after defaults. */
export const configSchema = z.strictObject({
  /** Data directory. @default './.revoada' */
  dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
  /** libp2p listen multiaddrs. @default ['/ip4/0.0.0.0/tcp/4101'] (falls back to a free port if taken) */
  listen: stringList(multiaddrString).optional(),
  /** Extra addresses to announce (e.g. a public IP behind NAT). @default [] */
  announce: stringList(multiaddrString).default([]),
  /** Join string of an existing cluster (only used when the data dir has no cluster yet). */
  join: z.string().min(1).optional(),
  /**
   * Bootstrap a new single-voter cluster from this node when its raft directory is empty although the data
   * dir belongs to a cluster (etcd's --force-new-cluster). Only when every other member is gone for good.
   * @default false
   */
  forceNewCluster: z.boolean().default(false),
  /**
   * The protocol level this node advertises and bootstraps a new cluster at, below the build's own
   * (docs/OPERATIONS.md, "Rolling upgrades"): for rehearsing an upgrade and for tests; leave it unset.
   * @default the build's level
   */
  protocolLevel: z.number().int().min(PROTOCOL_LEVEL_MIN).max(PROTOCOL_LEVEL).optional(),
  /** Log level. @default 'info' */
  logLevel: z.enum(LOG_LEVELS).default('info'),
  api: apiSection.default({ host: DEFAULT_API_HOST, port: DEFAULT_API_PORT, allowNonLoopback: false }),
  net: netSection.default(netSection.parse({})),
  raft: raftSection.optional(),
  membership: membershipSection.optional(),
  policy: policySection.optional(),
  materializer: materializerSection.optional(),
  hooks: hooksSection.optional(),
  metrics: metricsSection.optional(),
  attestation: attestationSection.optional(),
  content: contentSection.optional()
})

/** Validated node configuration. */
export type Config = z.output<typeof configSchema>
/** Input before defaults (what files, env and flags provide). */
export type ConfigInput = z.input<typeof configSchema>

export { DEFAULT_LISTEN }
