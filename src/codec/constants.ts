/**
 * @module codec/constants
 * Limits of the codec layer.
 */

/** Public keys kept as node:crypto KeyObjects for verification; the oldest is dropped beyond it. */
export const MAX_CACHED_PUBLIC_KEYS = 4096
