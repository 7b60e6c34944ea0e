/**
 * @module consensus/storage/snapshot-file
 * Snapshot files `snap-<index, 16 hex digits>.snap` = `u32 length ‖ u32 crc32 ‖ CBOR {meta, data}`,
 * written atomically: temp file, every byte written (short writes looped), fsync, and only then rename and
 * fsync of the directory — a crash or power cut leaves the old snapshot or the new one, never half of one.
 */
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { encode } from '@ipld/dag-cbor'
import { decodeBounded } from '../../codec/index.js'
import type { ConfState, Snapshot } from '../core/types.js'
import { StorageCorruptionError, toStorageError } from './errors.js'
import { fsyncDirWith, nodeStorageFs, writeFully } from './storage-fs.js'
import type { StorageFs } from './storage-fs.js'

const NAME = /^snap-([0-9a-f]{16})\.snap$/

export function snapshotFileName (index: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}.snap`
}

/** Snapshot file names in `dir`, oldest first. */
export function listSnapshots (dir: string, sfs: StorageFs = nodeStorageFs): string[] {
  return sfs.readdirSync(dir).filter((name) => NAME.test(name)).sort()
}

/**
 * Writes the snapshot file atomically.
 * @throws StorageFullError or StorageIoError (the temp file is removed; the old snapshot stays in place)
 */
export function writeSnapshotFile (dir: string, snapshot: Snapshot, sfs: StorageFs = nodeStorageFs): void {
  const payload = encode({ meta: snapshot.meta, data: snapshot.data })
  const header = Buffer.allocUnsafe(8)
  header.writeUInt32BE(payload.length, 0)
  header.writeUInt32BE(crc32(payload), 4)
  const file = path.join(dir, snapshotFileName(snapshot.meta.index))
  const temp = `${file}.tmp`
  let step = 'write'
  try {
    const fd = sfs.openSync(temp, 'w', 0o600)
    try {
      writeFully(sfs, fd, Buffer.concat([header, payload]))
      step = 'fsync'
      sfs.fsyncSync(fd)
    } finally {
      sfs.closeSync(fd)
    }
    step = 'rename'
    sfs.renameSync(temp, file)
    step = 'fsync of the directory'
    fsyncDirWith(sfs, dir)
  } catch (err) {
    try { sfs.rmSync(temp) } catch { /* best effort: recovery removes stray temp files */ }
    throw toStorageError(err, `snapshot ${step}`, temp)
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')

/** Reads and checks a snapshot file. @throws StorageCorruptionError naming the file and offset */
export function readSnapshotFile (file: string, sfs: StorageFs = nodeStorageFs): Snapshot {
  const buffer = sfs.readFileSync(file)
  if (buffer.length < 8) throw new StorageCorruptionError(file, 0, 'snapshot shorter than its header')
  const length = buffer.readUInt32BE(0)
  if (8 + length !== buffer.length) throw new StorageCorruptionError(file, 0, `snapshot length ${length} does not match the file (${buffer.length - 8} bytes)`)
  const payload = buffer.subarray(8)
  if (crc32(payload) !== buffer.readUInt32BE(4)) throw new StorageCorruptionError(file, 8, 'snapshot checksum mismatch')
  let value: { meta?: { index?: unknown, term?: unknown, confState?: Partial<ConfState> }, data?: unknown }
  try {
    // Bounded: read at start and again on fallback, the same file must get the same verdict each time.
    value = decodeBounded<typeof value>(payload)
  } catch (err) {
    throw new StorageCorruptionError(file, 8, `snapshot is not CBOR: ${(err as Error).message}`)
  }
  const meta = value.meta
  const cs = meta?.confState
  if (meta === undefined || !isInt(meta.index) || !isInt(meta.term) || !(value.data instanceof Uint8Array) || cs === undefined ||
      !isIds(cs.voters) || !isIds(cs.votersOutgoing) || !isIds(cs.learners) || !isIds(cs.learnersNext) || typeof cs.autoLeave !== 'boolean') {
    throw new StorageCorruptionError(file, 8, 'snapshot fields are malformed')
  }
  return {
    meta: { index: meta.index, term: meta.term, confState: { voters: cs.voters, votersOutgoing: cs.votersOutgoing, learners: cs.learners, learnersNext: cs.learnersNext, autoLeave: cs.autoLeave } },
    data: value.data
  }
}
