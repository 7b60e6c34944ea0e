/**
 * @module content/core/constants
 * Every limit of the content layer (STYLE §13), with its unit in the name and what happens on overflow.
 * The wire-visible ones (chunk size, frame and manifest bounds, protocol and topic names) are part of the
 * format in docs/CONTENT.md; changing them is a protocol change.
 */

/** The stream protocol chunks travel on. */
export const CONTENT_PROTOCOL = '/revoada/content/1.0.0'
/** Version field of every manifest and wire message. */
export const CONTENT_FORMAT_VERSION = 1

/** Bytes per chunk of a file we add (the last chunk may be shorter). */
export const CHUNK_BYTES = 1024 * 1024
/** Smallest and largest chunk size a manifest may declare (other implementations may choose within). */
export const CHUNK_BYTES_MIN = 1024
export const CHUNK_BYTES_MAX = 1024 * 1024
/** A manifest larger than this is refused (typed error), on add and on fetch. */
export const MANIFEST_BYTES_MAX = 1024 * 1024
/** Chunks in one file manifest: 16,384 × 1 MiB = 16 GiB per file. Adding more fails with ObjectTooLargeError. */
export const FILE_CHUNKS_MAX = 16_384
/** Largest file: chunks × chunk size. */
export const FILE_BYTES_MAX = FILE_CHUNKS_MAX * CHUNK_BYTES_MAX
/** Entries of one directory manifest; more is refused. */
export const DIR_ENTRIES_MAX = 4096
/** Directory nesting below a root; deeper trees are refused. */
export const DIR_DEPTH_MAX = 32
/**
 * Manifests whose tree height the store keeps (`TreeHeights`, docs/CONTENT.md §7), so adding a tree bottom-up
 * (`revoada content add DIR`) or fetching one held already reads each manifest once, not once per directory
 * above it. About 115 bytes of heap each (a 64-character hex key): at most ~1.8 MiB. Beyond it the least
 * recently used height is dropped, and its manifests are read again at the next walk that needs it.
 */
export const HEIGHT_CACHE_CIDS_MAX = 16_384
/**
 * Objects the store knows it holds in full, down to every chunk, since it last forgot a block (`HeldTrees`,
 * docs/CONTENT.md §6 step 1): a fetch of one held complete reads none of its manifests again. About 115 bytes of
 * heap each: at most ~1.8 MiB. Beyond it the least recently used is dropped, and the next fetch of it walks its
 * tree once more.
 */
export const HELD_CACHE_CIDS_MAX = 16_384
/** UTF-8 bytes of one entry name. */
export const ENTRY_NAME_BYTES_MAX = 255

/** A content-protocol frame (a response carrying one chunk plus its envelope). Larger frames reset the stream. */
export const FRAME_BYTES_MAX = CHUNK_BYTES_MAX + 1024
/**
 * Data items (CBOR heads) in one content request or answer read by the lenient decoder: the largest, a block
 * or map answer, holds 10 (a map, 4 keys, 2 texts, version, tag 42 and its bytes, the data). Counted before
 * decoding: 1 MiB of one-byte `{}` took ≈ 0.5 s and ≈ 90 MB to decode before the answer was refused.
 */
export const MESSAGE_ITEMS_MAX = 32
/** A request frame; requests are tiny, so anything bigger is malformed and resets the stream. */
export const REQUEST_FRAME_BYTES_MAX = 512
/** Bytes of a CID accepted from the wire (a BLAKE3 CIDv1 is 36). */
export const CID_BYTES_MAX = 64

/** Requests a fetcher keeps outstanding on one provider's stream (pipelining window). */
export const REQUESTS_IN_FLIGHT_PER_PROVIDER = 2
/**
 * Chunks one fetch has outstanding across all providers, plus one per provider with nothing outstanding (so
 * providers that never answer cannot take every slot): bounds a fetch's chunk memory to 8 + 16 MiB. Kept small
 * also because chunks share the connection with pings: megabytes queued on one connection delay a ping
 * (membership's suspicion ping) past its timeout on a slow or loaded link, and the connection is dropped.
 */
export const CHUNKS_IN_FLIGHT_PER_FETCH_MAX = 8
/** Chunks requested twice at the end of a fetch (endgame) so one slow provider does not hold it up. */
export const ENDGAME_DUPLICATES_MAX = 1
/** Fetches running at once on one node; more wait in line (bounds memory: 2 × 16 MiB). */
export const FETCHES_CONCURRENT_MAX = 2
/** Fetches queued or running; more are refused with FetchQueueFullError. */
export const FETCHES_QUEUED_MAX = 64
/**
 * Upload limits of a serving node. A requesting peer may have UPLOAD_STREAMS_PER_PEER_MAX content streams
 * served at once (a fetch uses one per provider, a node runs FETCHES_CONCURRENT_MAX fetches, plus a manifest
 * request), and all peers together UPLOAD_STREAMS_MAX; a stream beyond either is answered `busy` (with
 * BUSY_RETRY_AFTER_MS) and closed, so one greedy peer cannot take every upload slot.
 */
export const UPLOAD_STREAMS_PER_PEER_MAX = 4
export const UPLOAD_STREAMS_MAX = 32
export const BUSY_RETRY_AFTER_MS = 1000
/** The largest retry-after a `busy` answer may carry (a larger one is malformed). */
export const BUSY_RETRY_AFTER_MS_MAX = 60_000
/**
 * libp2p's hard cap on content streams per connection, each way. Above the per-peer upload limit, so a peer
 * over its limit normally gets the typed `busy` answer rather than a bare stream reset from libp2p.
 */
export const INBOUND_STREAMS_PER_CONNECTION_MAX = 16
/**
 * A served stream with no request for this long is closed (it holds an upload slot). Longer than a
 * fetcher's REQUEST_TIMEOUT_MS, so a fetcher waiting on another provider keeps its stream.
 */
export const SERVE_IDLE_TIMEOUT_MS = 60_000
/** Writing one response may take this long (a peer that stops reading is cut off and its slot freed). */
export const SERVE_WRITE_TIMEOUT_MS = 60_000
/**
 * Chunks a server keeps the store keys of, across the manifests it answered `map` requests for lately, so a
 * repeated `map` costs only the bitmap, not a read, hash and decode of the manifest (docs/CONTENT.md §5).
 * Four manifests of FILE_CHUNKS_MAX, about 84 bytes a chunk (a 64-character hex key): at most ~5.5 MiB.
 * Beyond it the least recently mapped manifests are dropped, and read again at their next `map`.
 */
export const MAP_CACHE_CHUNKS_MAX = 65_536
/** Providers one fetch talks to at once; the best-scored are chosen. */
export const PROVIDERS_PER_FETCH_MAX = 16

/** Providers remembered per CID, peers' entries in total, and CIDs remembered per peer (oldest first out). */
export const PROVIDERS_PER_CID_MAX = 64
export const PROVIDER_ENTRIES_MAX = 65_536
export const CIDS_PER_PEER_MAX = 4096
/** A provider entry lives this long after the announcement that made it (re-announced every interval). */
export const PROVIDER_TTL_MS = 90_000
/** Everything held is re-announced this often. */
export const ANNOUNCE_INTERVAL_MS = 30_000
/** Gossip message bytes; larger ones are rejected before decoding. */
export const GOSSIP_MESSAGE_BYTES_MAX = 16 * 1024
/** Items in one `have` message; an announcement of more is split. */
export const HAVE_ITEMS_PER_MESSAGE_MAX = 64
/** Gossip messages accepted per peer: a token bucket refilling this many per second, holding at most the burst. */
export const GOSSIP_MESSAGES_PER_PEER_PER_S = 20
export const GOSSIP_MESSAGES_PER_PEER_BURST = 100
/**
 * What this node spends of its own announcements (`AnnouncePacer`, docs/CONTENT.md §4): half the receivers'
 * rate and burst. Half the burst leaves the other half of every receiver's bucket for what the sender cannot
 * see: its fresh bucket after a restart (a receiver's may still be spent), and delivery that bunches messages
 * up (a copy held up to 5 s behind the next still fits). Half the rate lets a receiver's bucket refill twice
 * as fast as the sender drains it. Counts `have` and `want` alike: receivers count every message.
 */
export const ANNOUNCE_MESSAGES_PER_S = GOSSIP_MESSAGES_PER_PEER_PER_S / 2
export const ANNOUNCE_MESSAGES_BURST = GOSSIP_MESSAGES_PER_PEER_BURST / 2
/**
 * A `have` message that is not full waits until this long after the previous one, gathering the items that
 * arrive meanwhile: one refill interval, so a steady stream of adds spends tokens no faster than they come
 * back, and the burst stays for full messages and wants. A lone `have` waits for nothing.
 */
export const ANNOUNCE_COALESCE_MS = 1000 / ANNOUNCE_MESSAGES_PER_S
/**
 * `have` items waiting for the sender's budget, one per CID (a later one replaces the queued one), so the
 * queue holds at most what the node holds: OBJECTS_MAX. Beyond it (a caller announcing what it does not
 * hold) the oldest waiting item is dropped; the periodic re-announcement carries it again if it is held.
 */
export const ANNOUNCE_QUEUED_ITEMS_MAX = 100_000 // = OBJECTS_MAX (declared below)
/** `want`s waiting, one per CID. Beyond it the oldest is dropped: a waiting fetch repeats its want every WANT_REPEAT_MS. */
export const ANNOUNCE_QUEUED_WANTS_MAX = 64
/** Peers whose rate is tracked; the least recently seen is forgotten beyond it. */
export const RATE_LIMITED_PEERS_MAX = 4096
/** A `want` for the same CID is answered with a `have` at most this often. */
export const WANT_ANSWER_INTERVAL_MS = 1000
/** A fetch with no provider publishes `want` this often, and gives up after the wait (NoProvidersError). */
export const WANT_REPEAT_MS = 1000
export const PROVIDER_WAIT_MS = 30_000
/** A fetch with providers fails (FetchFailedError; fetching again resumes) when no chunk arrives for this long. */
export const FETCH_STALL_MS = 120_000

/**
 * A manifest request unanswered for this long makes the fetch ask the next provider as well (a hedge), up to
 * MANIFEST_REQUESTS_IN_FLIGHT_MAX at once: a slow provider costs the manifest this delay, not REQUEST_TIMEOUT_MS.
 */
export const MANIFEST_HEDGE_MS = 2000
export const MANIFEST_REQUESTS_IN_FLIGHT_MAX = 4
/** One request without an answer for this long counts as a failure of that provider. */
export const REQUEST_TIMEOUT_MS = 30_000
/** Dialing a provider's content protocol. */
export const DIAL_TIMEOUT_MS = 10_000
/** A partial provider's chunk bitmap is asked again at most this often. */
export const BITMAP_REFRESH_MS = 500

/** Provider score: start, bounds, and what each outcome adds. A provider at or below the ban line is not used. */
export const SCORE_INITIAL = 0
export const SCORE_MAX = 100
export const SCORE_MIN = -1000
export const SCORE_GOOD_CHUNK = 1
export const SCORE_FAILURE = -5
export const SCORE_BAD_CHUNK = -100
export const SCORE_BAN_AT_OR_BELOW = -50
/** Failures alone never take a score below this (above the ban line): only lying bans. */
export const SCORE_FAILURE_FLOOR = -40
/** A banned provider's score climbs back by this much per minute (so a fixed disk is eventually trusted again). */
export const SCORE_RECOVERY_PER_MINUTE = 1
/** Peers scored; the least recently updated is forgotten beyond it. */
export const SCORED_PEERS_MAX = 4096

/** Default store quota in bytes (config `content.quotaBytes`). */
export const QUOTA_BYTES_DEFAULT = 20 * 1024 * 1024 * 1024
/** Unpinned content is collected this long after its last use (config `content.retentionMs`). */
export const RETENTION_MS_DEFAULT = 24 * 60 * 60 * 1000
/** Garbage collection runs this often (config `content.gcIntervalMs`). */
export const GC_INTERVAL_MS_DEFAULT = 10 * 60 * 1000
/** Objects recorded in the store index; adding more fails with StoreIndexFullError. */
export const OBJECTS_MAX = 100_000
/**
 * The index journal (docs/CONTENT.md §3) is folded into a new index.json once it holds more bytes than this
 * and more than index.json: folding writes the whole index, so it waits until the changes it absorbs have
 * written at least as much (each change costs its record, amortised), and a start replays at most about twice
 * the index. Not an error: the batch that passes it folds instead of appending.
 */
export const INDEX_JOURNAL_FOLD_BYTES_MIN = 1024 * 1024
/**
 * Objects whose only change is a touch (last use, which feeds gc retention of unpinned content alone) waiting
 * in memory to be written with the next durable change or gc round. The touch that reaches it writes them
 * all and waits for the fsync (backpressure), so a crash loses at most this many touches' worth.
 */
export const INDEX_TOUCHES_PENDING_MAX = 1024
/**
 * A journal frame (one record, about 250 bytes) read back longer than this is damage, not a record. Writing a
 * longer one is a programmer error (asserted): no valid record comes near it.
 */
export const INDEX_FRAME_BYTES_MAX = 4096
/** `get(cid)` into memory is refused above this size; use `open(cid)` to stream. */
export const GET_IN_MEMORY_BYTES_MAX = 64 * 1024 * 1024
