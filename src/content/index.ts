/**
 * @module content
 * Layer C (DESIGN.md §7, docs/CONTENT.md): BLAKE3-addressed blobs any member adds and every member fetches
 * from many providers at once, each chunk verified before it is written. The one door for other layers.
 */
export { ContentService, TEST_ONLY_CORRUPT_ENV, TEST_ONLY_SERVE_DELAY_ENV } from './content-service.js'
export type { ContentServiceInit, ProviderView } from './content-service.js'
export { ContentStore, parseRootCid } from './store.js'
export type { ObjectRecord, GcResult } from './store.js'
export type { FetchProgress } from './fetch.js'
export { contentTopic } from './announcer.js'
export { isConfMember, peerWatch } from './membership.js'
export type { PeerGoneKind, PeerSources, PeerWatcher } from './membership.js'
export * as contentCore from './core/index.js'
export {
  ChunkVerificationError, ContentNotFoundError, DiskFullError, FetchAbortedError, FetchFailedError, FetchQueueFullError, InvalidCidError,
  MalformedContentError, NoProvidersError, NotAFileError, ObjectTooLargeError, QuotaExceededError, StoreIndexFullError, StoreJournalCorruptError
} from './core/index.js'
