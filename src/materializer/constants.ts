/**
 * @module materializer/constants
 * Defaults and limits of the materializer (issue 15). Config keys: `materializer.*`, `hooks.*`.
 */

/** Re-render and re-check the manifest directory this often even without a shape change, in ms. */
export const DEFAULT_RECONCILE_INTERVAL_MS = 10_000
/**
 * A reconcile that follows one that wrote or removed files starts at least this long after it, in ms (issue
 * 16): the role changes committed meanwhile are written once, as they stand then, instead of one atomic write
 * or removal (temporary file, fdatasync, rename, directory fsync, state file) per change. Kubelet picks
 * static pods up on its own schedule (file watch, 20 s re-list), so 100 ms is not noticed there.
 */
export const RECONCILE_SPACING_MS = 100
/** Kubernetes version rendered into images when neither config nor membership names one. */
export const DEFAULT_KUBERNETES_VERSION = 'v1.31.4'
/** etcd image tag rendered into the etcd manifest. */
export const DEFAULT_ETCD_VERSION = '3.5.16-0'
/** A hook is killed after this long, in ms. */
export const DEFAULT_HOOK_TIMEOUT_MS = 30_000
/** Attempts per hook run before it is given up (each failure is recorded). */
export const HOOK_ATTEMPTS_MAX = 6
/** First retry delay of a failed hook, in ms; doubles per attempt up to HOOK_RETRY_MAX_MS. */
export const HOOK_RETRY_MIN_MS = 1_000
export const HOOK_RETRY_MAX_MS = 60_000
/** Hook runs waiting at once; beyond it the oldest waiting run is dropped and recorded. */
export const HOOK_QUEUE_MAX = 64
/**
 * After a hook exits, its output pipes are read for at most this long, in ms, then closed: a process the hook
 * started in the background may hold them open for as long as it runs, and the run is over when the hook
 * exits. Output the hook wrote before exiting is in the pipe already and read well within it.
 */
export const HOOK_OUTPUT_AFTER_EXIT_MS = 200
/** Bytes of a hook's stdout+stderr kept for the log; the rest is cut. */
export const HOOK_OUTPUT_BYTES_MAX = 16 * 1024
/** Materializer events (writes, removals, hook results, errors) kept for `revoada manifests`. */
export const EVENTS_MAX = 200
/** Time allowed to fetch one catalog template from the content layer, in ms; then the fetch ends. */
export const TEMPLATE_FETCH_TIMEOUT_MS = 30_000
/**
 * A reconcile waits this long, in ms, for the templates it fetches (all at once); a fetch still running then
 * goes on without it, and its template's manifest is written by a reconcile when it arrives. The others'
 * manifests are written and removed meanwhile: a catalog naming content nobody serves held the removal of a
 * lost role's manifest for the fetch's whole timeout, in every reconcile.
 */
export const TEMPLATE_FETCH_WAIT_MS = 1_000
/**
 * Texts of committed templates kept once fetched, least recently used dropped first (the build's defaults are
 * kept apart, always). A catalog names at most 32 (8 per role), so the ones in use stay; without a bound, every
 * catalog a key holder committed left up to 8 × 256 KiB on each holder of the role for the life of the process.
 * A dropped one is fetched again when named, from this node's store, where it is pinned.
 */
export const TEMPLATE_TEXTS_MAX = 64
/** The state file (names this node wrote) inside `<data-dir>/materializer/`. */
export const STATE_FILE_NAME = 'state.json'
/** Prefix of temporary files in the manifest directory (a dot-file: kubelet ignores those). */
export const TEMP_PREFIX = '.revoada-tmp-'
