/**
 * @module dashboard/constants
 * Limits of the live dashboard and its event stream.
 */

/** Concurrent `GET /v1/events` streams per node; one more gets 503 (logged as SSE_REFUSED_LOG_INTERVAL_MS says). */
export const SSE_CLIENTS_MAX = 16
/**
 * Concurrent streams of one dashboard session (a browser's tabs share its cookie); one more gets 429, so a
 * client leaking tabs cannot take every SSE_CLIENTS_MAX slot. Streams opened with the token count only there.
 */
export const SSE_STREAMS_PER_SESSION_MAX = 4
/**
 * Streams refused for SSE_STREAMS_PER_SESSION_MAX, and apart from them those refused for SSE_CLIENTS_MAX, are
 * logged at most once per this interval, with their count since the last line: a client retrying in a loop would
 * write a line per attempt.
 */
export const SSE_REFUSED_LOG_INTERVAL_MS = 60_000
/** How often the state is rebuilt and, when it changed, pushed (phi and uptime move without events). */
export const SSE_PUSH_INTERVAL_MS = 500
/** A comment line keeps idle proxies from closing the stream. */
export const SSE_KEEPALIVE_MS = 15_000
/** A client whose unsent bytes pass this is too slow and is dropped (it reconnects and gets a fresh state). */
export const SSE_CLIENT_BUFFER_BYTES_MAX = 1024 * 1024
/** EventSource reconnect delay sent in the stream's `retry:` field. */
export const SSE_RETRY_MS = 1000
/** Timeline entries kept (membership events, leader changes, role moves). */
export const TIMELINE_ENTRIES_MAX = 200
/** Timeline entries and policy decisions sent in one state message. */
export const TIMELINE_ENTRIES_SENT = 60
export const DECISIONS_SENT = 20
