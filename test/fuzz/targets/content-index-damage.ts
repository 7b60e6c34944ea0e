/**
 * @module test/fuzz/targets/content-index-damage
 * The damage program of the content-index target: 4-byte ops `[op, a, b, c]` over a copy of a store's
 * index.json and index.journal and over its block names. Byte ops pick the journal three times in four (its
 * frames are what the open checks); frame ops work on lines, as the journal is one frame a line.
 */

export interface IndexFiles {
  snapshot: Buffer
  journal: Buffer
  /** Journals that do not extend this index.json: a pre-fold one of the same history, another history's. */
  otherJournals: Buffer[]
}

export interface Damaged {
  /** undefined: the file is not written (deleted). */
  snapshot: Buffer | undefined
  journal: Buffer | undefined
  /** `<hh>/<hex>` names of the block files deleted. */
  deletedBlocks: Set<string>
  /** The op changed index.json / the journal (their bytes, or which file is there). */
  snapshotTouched: boolean
  journalTouched: boolean
  /** Every op was a tear that cut the journal inside its last frame (at least one did): it must open. */
  tornOnly: boolean
}

export const DAMAGE_OPS = 13
export const OP_DELETE_BLOCK = 11
export const OP_TEAR = 12
const NEWLINE = 0x0a

/** The [start, end) of each line, the last without its newline when the bytes end without one. */
function lines (bytes: Buffer): Array<[number, number]> {
  const found: Array<[number, number]> = []
  for (let start = 0; start < bytes.length;) {
    const newline = bytes.indexOf(NEWLINE, start)
    const end = newline === -1 ? bytes.length : newline + 1
    found.push([start, end])
    start = end
  }
  return found
}

/** One op on one file's bytes; the same bytes back when it does nothing. */
function damageBytes (bytes: Buffer, op: number, a: number, b: number, c: number): Buffer {
  const offset = bytes.length === 0 ? 0 : ((b << 8) | c) % bytes.length
  const spans = lines(bytes)
  switch (op) {
    case 0: { const out = Buffer.from(bytes); if (out.length > 0) out[offset] = (out[offset] as number) ^ (1 << ((a >> 2) & 7)); return out }
    case 1: { const out = Buffer.from(bytes); out.fill(0, offset, Math.min(out.length, offset + 1 + (c % 64))); return out }
    case 2: return bytes.subarray(0, ((b << 8) | c) % (bytes.length + 1))
    case 3: return Buffer.concat([bytes, Buffer.alloc(1 + (b % 64), c)])
    case 4: { // a whole line copied to another line's place (a frame replayed twice, or out of order)
      if (spans.length === 0) return bytes
      const [start, end] = spans[b % spans.length] as [number, number]
      const at = (spans[c % spans.length] as [number, number])[0]
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(start, end), bytes.subarray(at)])
    }
    case 5: { // a whole line lost
      if (spans.length === 0) return bytes
      const [start, end] = spans[b % spans.length] as [number, number]
      return Buffer.concat([bytes.subarray(0, start), bytes.subarray(end)])
    }
    case 6: { const end = Math.min(bytes.length, offset + 1 + (c % 128)); return Buffer.concat([bytes.subarray(0, end), bytes.subarray(offset, end), bytes.subarray(end)]) }
    default: return Buffer.concat([bytes.subarray(0, offset), bytes.subarray(offset + 1 + (c % 128))])
  }
}

/** Cuts the journal inside its last frame (never the header); undefined when there is no frame to tear. */
function tear (journal: Buffer, b: number, c: number): Buffer | undefined {
  const spans = lines(journal)
  if (spans.length < 2) return undefined
  const [start, end] = spans[spans.length - 1] as [number, number]
  if (end - start < 2) return undefined
  return journal.subarray(0, start + 1 + (((b << 8) | c) % (end - start - 1)))
}

/** Applies the ops in order to a copy of `files` and to `blockNames`. */
export function applyDamage (files: IndexFiles, blockNames: readonly string[], ops: ReadonlyArray<readonly number[]>): Damaged {
  const out: Damaged = {
    snapshot: files.snapshot, journal: files.journal, deletedBlocks: new Set(),
    snapshotTouched: false, journalTouched: false, tornOnly: ops.length > 0
  }
  let tornAny = false
  for (const [opByte = 0, a = 0, b = 0, c = 0] of ops) {
    const op = opByte % DAMAGE_OPS
    if (op !== OP_TEAR) out.tornOnly = false
    if (op < 8) {
      const journal = a % 4 !== 0
      const bytes = journal ? out.journal : out.snapshot
      if (bytes === undefined) continue
      const damaged = damageBytes(bytes, op, a, b, c)
      if (journal) { out.journal = damaged; out.journalTouched = true } else { out.snapshot = damaged; out.snapshotTouched = true }
    } else if (op === 8) {
      if (a % 2 === 0) { out.snapshot = undefined; out.snapshotTouched = true } else { out.journal = undefined; out.journalTouched = true }
    } else if (op === 9) {
      [out.snapshot, out.journal] = [out.journal, out.snapshot]
      out.snapshotTouched = out.journalTouched = true
    } else if (op === 10) {
      if (files.otherJournals.length === 0) continue
      out.journal = files.otherJournals[b % files.otherJournals.length]
      out.journalTouched = true
    } else if (op === OP_DELETE_BLOCK) {
      if (blockNames.length > 0) out.deletedBlocks.add(blockNames[b % blockNames.length] as string)
    } else {
      const torn = out.journal === undefined ? undefined : tear(out.journal, b, c)
      if (torn === undefined) continue
      out.journal = torn
      out.journalTouched = true
      tornAny = true
    }
  }
  out.tornOnly &&= tornAny
  return out
}
