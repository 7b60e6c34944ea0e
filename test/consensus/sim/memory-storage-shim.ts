/**
 * @module test/consensus/sim/memory-storage-shim
 * The simulator's storage now lives in src/consensus/storage/memory-storage.ts; this re-export keeps the
 * simulator's imports stable.
 */
export { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
