/**
 * @module content/core/manifest
 * The two manifest kinds (docs/CONTENT.md §2), as deterministic DAG-CBOR whose BLAKE3 CID (codec dag-cbor)
 * is the object's root CID:
 *
 * - file: `{ v: 1, type: 'file', size, chunkBytes, chunks: [digest32, …] }`; chunk i holds bytes
 *   [i·chunkBytes, min(size, (i+1)·chunkBytes)) and its CID is CIDv1(raw, blake3-256(digest_i)).
 * - dir:  `{ v: 1, type: 'dir', entries: [{ name, cid, size }, …] }`, sorted by name (UTF-8 byte order),
 *   names unique, each `cid` a link to a file or dir manifest.
 *
 * The root CID authenticates the manifest and the manifest authenticates every chunk, so a chunk can be
 * verified the moment it arrives, from any provider, before it is written (no signature is needed: whoever
 * names the root CID — a committed MeshShape entry, an operator — vouches for the content).
 */
import { CID } from 'multiformats/cid'
import { decodeCanonical, encodeCanonical, MalformedEncodingError, NonCanonicalEncodingError } from '../../codec/index.js'
import { BLAKE3_DIGEST_BYTES, cidOfBytesWithCodec, BLAKE3_MULTIHASH_CODE, DAG_CBOR_CODE, RAW_CODE } from '../../codec/index.js'
import * as Digest from 'multiformats/hashes/digest'
import {
  CHUNK_BYTES_MAX, CHUNK_BYTES_MIN, CONTENT_FORMAT_VERSION, DIR_ENTRIES_MAX, ENTRY_NAME_BYTES_MAX, FILE_BYTES_MAX,
  FILE_CHUNKS_MAX, MANIFEST_BYTES_MAX
} from './constants.js'
import { MalformedContentError, ObjectTooLargeError, describeValue } from './errors.js'
import { assert } from '../../util/assert.js'

export interface FileManifest {
  v: 1
  type: 'file'
  /** Total bytes of the file. */
  size: number
  /** Bytes per chunk; every chunk but the last is exactly this long. */
  chunkBytes: number
  /** BLAKE3-256 digest of each chunk, in order. Invariant: length === chunkCount(size, chunkBytes). */
  chunks: Uint8Array[]
}

export interface DirEntry {
  name: string
  cid: CID
  /** Total file bytes below this entry (informational; a fetch trusts only the child manifest). */
  size: number
}

export interface DirManifest {
  v: 1
  type: 'dir'
  entries: DirEntry[]
}

export type Manifest = FileManifest | DirManifest

/**
 * The bytes below a directory: the sum of its entries' sizes, saturating at Number.MAX_SAFE_INTEGER. Each
 * entry's size is a safe integer, but 4,096 of them can sum past 2^53, where a number is no longer an exact
 * integer: CBOR then encodes it as a float, and a peer refuses the whole `have` that carries it (§4).
 */
export function dirSize (entries: readonly DirEntry[]): number {
  let size = 0
  for (const entry of entries) {
    assert(Number.isSafeInteger(entry.size) && entry.size >= 0, () => `entry ${entry.name} size`)
    size = Math.min(Number.MAX_SAFE_INTEGER, size + entry.size)
  }
  return size
}

/** Chunks a file of `size` bytes has. An empty file has none. */
export function chunkCount (size: number, chunkBytes: number): number {
  assert(Number.isSafeInteger(size) && size >= 0, 'size')
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, 'chunkBytes')
  return Math.ceil(size / chunkBytes)
}

/** Length of chunk `index` of a file. */
export function chunkLength (manifest: FileManifest, index: number): number {
  assert(index >= 0 && index < manifest.chunks.length, () => `chunk ${index} out of range`)
  return Math.min(manifest.chunkBytes, manifest.size - index * manifest.chunkBytes)
}

/** The CID of a chunk from its digest (raw codec). */
export function chunkCid (digest: Uint8Array): CID {
  assert(digest.length === BLAKE3_DIGEST_BYTES, 'digest length')
  return CID.createV1(RAW_CODE, Digest.create(BLAKE3_MULTIHASH_CODE, digest))
}

/** Canonical bytes and root CID of a manifest. */
export function encodeManifest (manifest: Manifest): { bytes: Uint8Array, cid: CID } {
  validateManifest(manifest)
  const bytes = encodeCanonical(manifest)
  if (bytes.length > MANIFEST_BYTES_MAX) throw new ObjectTooLargeError(`manifest of ${bytes.length} bytes over ${MANIFEST_BYTES_MAX}`)
  return { bytes, cid: cidOfBytesWithCodec(bytes, DAG_CBOR_CODE) }
}

/**
 * Decodes and validates manifest bytes (already checked against their CID by the caller).
 * @throws MalformedContentError naming what is wrong
 */
export function decodeManifest (bytes: Uint8Array): Manifest {
  if (bytes.length > MANIFEST_BYTES_MAX) throw new MalformedContentError(`manifest of ${bytes.length} bytes over ${MANIFEST_BYTES_MAX}`)
  let value: unknown
  try {
    value = decodeCanonical(bytes)
  } catch (err) {
    if (err instanceof MalformedEncodingError || err instanceof NonCanonicalEncodingError) throw new MalformedContentError(`manifest: ${err.message}`)
    throw err
  }
  return validateManifest(value)
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** Checks every rule of docs/CONTENT.md §2 and returns the typed manifest. @throws MalformedContentError */
export function validateManifest (value: unknown): Manifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedContentError('manifest is not a map')
  const m = value as Record<string, unknown>
  if (m.v !== CONTENT_FORMAT_VERSION) throw new MalformedContentError(`manifest version ${describeValue(m.v)} is not ${CONTENT_FORMAT_VERSION}`)
  if (m.type === 'file') return validateFile(m)
  if (m.type === 'dir') return validateDir(m)
  throw new MalformedContentError(`unknown manifest type ${describeValue(m.type)}`)
}

function onlyKeys (m: Record<string, unknown>, keys: string[]): void {
  for (const k of Object.keys(m)) if (!keys.includes(k)) throw new MalformedContentError(`unknown manifest field ${k}`)
}

function validateFile (m: Record<string, unknown>): FileManifest {
  onlyKeys(m, ['v', 'type', 'size', 'chunkBytes', 'chunks'])
  const { size, chunkBytes, chunks } = m
  if (!isCount(size) || size > FILE_BYTES_MAX) throw new MalformedContentError(`file size ${describeValue(size)} not in [0, ${FILE_BYTES_MAX}]`)
  if (!isCount(chunkBytes) || chunkBytes < CHUNK_BYTES_MIN || chunkBytes > CHUNK_BYTES_MAX) {
    throw new MalformedContentError(`chunkBytes ${describeValue(chunkBytes)} not in [${CHUNK_BYTES_MIN}, ${CHUNK_BYTES_MAX}]`)
  }
  if (!Array.isArray(chunks) || chunks.length > FILE_CHUNKS_MAX) throw new MalformedContentError('chunks is not a list of at most FILE_CHUNKS_MAX digests')
  if (chunks.length !== chunkCount(size, chunkBytes)) throw new MalformedContentError(`${chunks.length} chunks for ${size} bytes of ${chunkBytes}-byte chunks`)
  for (const digest of chunks) {
    if (!(digest instanceof Uint8Array) || digest.length !== BLAKE3_DIGEST_BYTES) throw new MalformedContentError('a chunk digest is not 32 bytes')
  }
  return { v: 1, type: 'file', size, chunkBytes, chunks: chunks as Uint8Array[] }
}

const encoder = new TextEncoder()

/** True for a name that is safe as one path component on every platform we write to. */
export function validEntryName (name: unknown): name is string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..') return false
  if (encoder.encode(name).length > ENTRY_NAME_BYTES_MAX) return false
  return !/[/\\\0]/.test(name)
}

function compareNames (a: string, b: string): number {
  const x = encoder.encode(a)
  const y = encoder.encode(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number)
  return x.length - y.length
}

/** Sorts entries into manifest order (UTF-8 byte order of names). */
export function sortEntries (entries: DirEntry[]): DirEntry[] {
  return [...entries].sort((a, b) => compareNames(a.name, b.name))
}

function validateDir (m: Record<string, unknown>): DirManifest {
  onlyKeys(m, ['v', 'type', 'entries'])
  const entries = m.entries
  if (!Array.isArray(entries) || entries.length > DIR_ENTRIES_MAX) throw new MalformedContentError(`entries is not a list of at most ${DIR_ENTRIES_MAX}`)
  const out: DirEntry[] = []
  for (const raw of entries) {
    if (typeof raw !== 'object' || raw === null) throw new MalformedContentError('a directory entry is not a map')
    const e = raw as Record<string, unknown>
    onlyKeys(e, ['name', 'cid', 'size'])
    if (!validEntryName(e.name)) throw new MalformedContentError(`bad entry name ${describeValue(e.name)}`)
    const cid = CID.asCID(e.cid)
    if (cid === null || !isManifestCid(cid)) throw new MalformedContentError(`entry ${e.name} does not link a BLAKE3 dag-cbor manifest`)
    if (!isCount(e.size)) throw new MalformedContentError(`entry ${e.name} size`)
    const previous = out[out.length - 1]
    if (previous !== undefined && compareNames(previous.name, e.name) >= 0) throw new MalformedContentError('entries are not sorted by name or repeat a name')
    out.push({ name: e.name, cid, size: e.size })
  }
  return { v: 1, type: 'dir', entries: out }
}

/** A root CID: CIDv1, dag-cbor, BLAKE3-256. */
export function isManifestCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === DAG_CBOR_CODE && cid.multihash.code === BLAKE3_MULTIHASH_CODE &&
    cid.multihash.digest.length === BLAKE3_DIGEST_BYTES
}

/** A block CID the store accepts: a manifest or a raw chunk, BLAKE3-256. */
export function isBlockCid (cid: CID): boolean {
  return cid.version === 1 && (cid.code === DAG_CBOR_CODE || cid.code === RAW_CODE) &&
    cid.multihash.code === BLAKE3_MULTIHASH_CODE && cid.multihash.digest.length === BLAKE3_DIGEST_BYTES
}
