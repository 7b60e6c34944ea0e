/**
 * @module config/constants
 * Defaults for the node configuration. Each is documented where the schema uses it (config/schema.ts).
 */

/** Default data dir, relative to the working directory (issue 2). */
export const DEFAULT_DATA_DIR = './.revoada'

/**
 * Default libp2p listen address. A fixed port keeps a node's address stable across restarts, so peers that
 * remember it can redial; if the port is taken and the operator did not choose one, the node falls back
 * to a free port (see node/listen.ts) so a second node on one machine still starts.
 */
export const DEFAULT_LISTEN_PORT = 4101
export const DEFAULT_LISTEN = `/ip4/0.0.0.0/tcp/${DEFAULT_LISTEN_PORT}`

/** Default admin API bind: loopback, and port 0 = a free port; the CLI finds it through `api.json`. */
export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = 0

/**
 * The longest delay Node's timers keep (2^31 − 1 ms, about 24.8 days): setTimeout and setInterval fire after
 * 1 ms for a larger one (a TimeoutOverflowWarning), so a hook would be killed at once and a periodic loop would
 * spin. Every millisecond setting that reaches a timer is held to it (config/schema.ts).
 */
export const TIMER_MS_MAX = 2_147_483_647

/** Prefix of environment variables read as config; `__` separates nested keys. */
export const ENV_PREFIX = 'REVOADA_'

/**
 * The link monitor's round (net/link-monitor.ts): a connection that received nothing since the last round is
 * pinged. Rare on purpose: membership heartbeats prove liveness, and a suspect member's connection is pinged
 * at once (membership-service.ts), so a frozen peer is still dropped within suspicion time + 2 s; pinging
 * every connection every second cost each node 2 streams per peer per second (issue 16, docs/bench/scale.md).
 */
export const DEFAULT_PING_INTERVAL_MS = 10_000
/**
 * The link monitor aborts a connection whose ping takes longer.
 * Long because it is judged by this node's own clock: at 1 s a node starved of CPU for a second found every
 * ping late and aborted every connection at once, then paid a handshake per peer to reconnect (issue 16;
 * test/net/link-monitor.test.ts). A frozen member is dropped sooner by membership's suspicion ping; this
 * catches a dead link to a peer still heard through others (test/testbed/netns.test.ts).
 */
export const DEFAULT_PING_TIMEOUT_MS = 10_000
/** Redial loop period and per-peer backoff bounds (libp2p itself gives up after ~30 s). */
export const DEFAULT_REDIAL_INTERVAL_MS = 1000
export const DEFAULT_REDIAL_BACKOFF_MIN_MS = 500
export const DEFAULT_REDIAL_BACKOFF_MAX_MS = 15_000
/**
 * One dial attempt, including pnet and noise; a wrong cluster key shows up as this timing out. Long on
 * purpose (it was 5 s): on a starved machine a handshake takes seconds of wall time, and a dialer that gives
 * up throws away what both sides did and starts again — a seed dialled by 24 joiners at once completed none
 * of them for a minute (issue 16, docs/bench/scale.md; test/net/slow-handshake.test.ts). Waiting costs the
 * dialer nothing; a refused or unreachable address still fails at once.
 */
export const DEFAULT_DIAL_TIMEOUT_MS = 20_000
/** Largest config file we read; anything bigger is a mistake. */
export const CONFIG_FILE_BYTES_MAX = 1024 * 1024
