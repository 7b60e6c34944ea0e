/**
 * @module codec/constants
 * Limits of the codec layer.
 */

/** Public keys kept as node:crypto KeyObjects for verification; the oldest is dropped beyond it. */
export const MAX_CACHED_PUBLIC_KEYS = 4096

/**
 * Deepest nesting of arrays, maps and tags a decoder takes. @ipld/dag-cbor decodes by recursion, and where a
 * deep value overflows the stack depends on the caller's stack and the JIT (3,767 levels cold, 9,712 warm,
 * measured in test/codec/nesting.test.ts' process), so without a fixed bound one entry could decode on one
 * replica and fail on another. Honest values nest fewer than 16 levels; 512 levels take an eighth of the stack
 * when cold. Deeper input is a MalformedEncodingError.
 */
export const DECODE_DEPTH_MAX = 512
