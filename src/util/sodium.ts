/**
 * @module util/sodium
 * Loads `sodium-native` (libsodium, prebuilt binaries inside the npm package, no install script) for the few
 * functions a caller names. Where its binary does not load (a platform or libc it has no prebuild for) every
 * caller has a slower fallback of the same result: the WASM XSalsa20 (src/net/xsalsa20.ts) and OpenSSL's
 * Ed25519 (src/codec/ed25519.ts).
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** `sodium-native` typed as `T` when its binary loads here and has every function in `functions`, else null. */
export function loadSodium<T> (functions: readonly string[]): T | null {
  try {
    const sodium = require('sodium-native') as Record<string, unknown>
    return functions.every((name) => typeof sodium[name] === 'function') ? sodium as T : null
  } catch {
    return null
  }
}
