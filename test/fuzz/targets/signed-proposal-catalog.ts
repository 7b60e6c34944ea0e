/**
 * @module test/fuzz/targets/signed-proposal-catalog
 * The `set-catalog` commands of the signed-proposal target and what it checks of the catalog after each entry.
 * Template CIDs are judged by the shape's protocol level (catalog.ts templateCidProblem): below
 * PROTOCOL_CANONICAL_CATALOG a mixed-case or `=`-padded spelling of a valid CID applies as every older build
 * applies it; from it only the canonical text (lowercase base32, no padding) does, and the raise rewrites the
 * catalog to that text. So the commands mix canonical CIDs, the same CIDs spelled otherwise, CIDs a template may
 * not name, and garbage; valid and invalid file names; now and then a role that is none.
 *
 * Checked after each entry, by oracles of their own (not the code's canonicalCidText): a shape at level 7 or
 * more holds every template CID as lowercase base32 without padding; a raise across level 7 keeps every role's
 * template names, order and CIDs (the same CID bytes), only respelled; an applied set-catalog stores the
 * command's templates as sent.
 */
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import * as Digest from 'multiformats/hashes/digest'
import { cidOfBytes, cidOfBytesWithCodec, DAG_CBOR_CODE, RAW_CODE } from '../../../src/codec/index.js'
import {
  CONTROL_PLANE_ROLES, MAX_TEMPLATE_CID_LENGTH, MAX_TEMPLATE_NAME_LENGTH, MAX_TEMPLATES_PER_ROLE, PROTOCOL_CANONICAL_CATALOG
} from '../../../src/consensus/shape/core/index.js'
import type { CatalogTemplate, Command, ControlPlaneRole, MeshShape, SignedProposal } from '../../../src/consensus/shape/core/index.js'
import type { FuzzRng } from '../rng.js'
import { invariant } from '../target.js'

const SHA2_256_CODE = 0x12

/** File names a template may have (picked from a few, so a list repeats one now and then: `appears twice`). */
const GOOD_NAMES = ['etcd.yaml', 'kube-apiserver.yaml', 'kube-scheduler.yml', 'a.yaml', '0_x.yaml']
/** File names it may not: upper case, a dot-file, a path, another extension, none, too long, not ASCII. */
const BAD_NAMES = ['', 'Etcd.yaml', '.etcd.yaml', 'etc/d.yaml', '../etcd.yaml', 'etcd.json', 'etcd', 'étcd.yaml', `${'a'.repeat(MAX_TEMPLATE_NAME_LENGTH)}.yaml`]
/** Not a control-plane role: apply never sees it (the envelope does not decode). */
const BAD_ROLES = ['worker', 'ETCD', '', 'quarantined']

/** `text` with the case of some letters after the multibase prefix flipped (at least one). */
function mixedCase (rng: FuzzRng, text: string): string {
  const chars = [...text]
  const letters = chars.flatMap((c, i) => i > 0 && /[a-z]/i.test(c) ? [i] : [])
  const flip = (i: number): void => { const c = chars[i] as string; chars[i] = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase() }
  for (const i of letters) if (rng.chance(0.3)) flip(i)
  if (chars.join('') === text && letters.length > 0) flip(rng.pick(letters))
  return chars.join('')
}

/**
 * A template CID: canonical (raw or dag-cbor, BLAKE3); the same CID mixed-case, `=`-padded or both (valid below
 * level 7 only); another spelling of it (base58btc, whitespace, base32upper) or a CID of the wrong kind (CIDv0,
 * SHA-256); or garbage (truncated, a character changed, too long, empty).
 */
export function templateCid (rng: FuzzRng): string {
  const cid = rng.chance(0.7) ? cidOfBytes(rng.bytes(1 + rng.int(64))) : cidOfBytesWithCodec(rng.bytes(8), DAG_CBOR_CODE)
  const text = cid.toString()
  switch (rng.int(10)) {
    case 0: case 1: case 2: case 3: return text
    case 4: return mixedCase(rng, text)
    case 5: return text + '='.repeat(1 + rng.int(4))
    case 6: return mixedCase(rng, text) + '='.repeat(1 + rng.int(4))
    case 7: return rng.pick([cid.toString(base58btc), ` ${text}`, `${text}\n`, text.toUpperCase(), `B${text.slice(1).toUpperCase()}`])
    case 8: {
      const sha = rng.bytes(32)
      return rng.pick([CID.createV0(Digest.create(SHA2_256_CODE, sha)).toString(), CID.createV1(RAW_CODE, Digest.create(SHA2_256_CODE, sha)).toString()])
    }
    default: return rng.pick([
      '', 'b', 'bafy', text.slice(0, -1), `${text.slice(0, -1)}1`, `${text.slice(0, 10)}0${text.slice(11)}`,
      text + 'a'.repeat(MAX_TEMPLATE_CID_LENGTH), 'z'.repeat(1 + MAX_TEMPLATE_CID_LENGTH)
    ])
  }
}

/** A `set-catalog` command: `min` (0: clears the role) to MAX_TEMPLATES_PER_ROLE + 2 templates (mostly a few), usually for a real role. */
export function catalogCommand (rng: FuzzRng, min = 0): Command {
  const role = (rng.chance(0.95) ? rng.pick(CONTROL_PLANE_ROLES) : rng.pick(BAD_ROLES)) as ControlPlaneRole
  const count = min + (rng.chance(0.8) ? rng.int(4 - min) : rng.int(MAX_TEMPLATES_PER_ROLE + 3 - min))
  const templates: CatalogTemplate[] = Array.from({ length: count }, () => ({
    name: rng.chance(0.85) ? rng.pick(GOOD_NAMES) : rng.pick(BAD_NAMES),
    cid: templateCid(rng)
  }))
  return { kind: 'set-catalog', role, templates }
}

/** The canonical text of a CIDv1 as this oracle knows it: multibase `b`, then lowercase RFC 4648 base32, no padding. */
const CANONICAL_CID_TEXT = /^b[a-z2-7]+$/

function sameCid (a: string, b: string): boolean {
  try {
    return CID.parse(a).equals(CID.parse(b))
  } catch {
    return false
  }
}

/** Checks the catalog after one entry: `before` is the shape it was applied to, `proposal` the one it decoded (if any). */
export function checkCatalog (before: MeshShape, after: MeshShape, applied: boolean, proposal: SignedProposal | null): void {
  const entries = after.catalogEntries()
  if (after.protocol >= PROTOCOL_CANONICAL_CATALOG) {
    for (const [role, templates] of entries) {
      for (const t of templates) invariant(CANONICAL_CID_TEXT.test(t.cid), () => `level ${after.protocol} shape holds ${role} template ${t.name} as ${JSON.stringify(t.cid)}`)
    }
  }
  if (before.protocol < PROTOCOL_CANONICAL_CATALOG && after.protocol >= PROTOCOL_CANONICAL_CATALOG) {
    for (const role of CONTROL_PLANE_ROLES) {
      const was = before.templatesOf(role)
      const now = after.templatesOf(role)
      invariant(was.length === now.length && was.every((t, i) => t.name === now[i]?.name && sameCid(t.cid, (now[i] as CatalogTemplate).cid)),
        () => `the raise to ${after.protocol} changed ${role}'s templates beyond their spelling: ${JSON.stringify(was)} → ${JSON.stringify(now)}`)
    }
  }
  const envelope = proposal?.envelope
  if (applied && envelope !== undefined && envelope.v === 1 && envelope.command.kind === 'set-catalog') {
    const { role, templates } = envelope.command
    const stored = after.templatesOf(role)
    invariant(JSON.stringify(stored) === JSON.stringify(templates.map((t) => ({ name: t.name, cid: t.cid }))),
      () => `set-catalog ${role} applied ${JSON.stringify(templates)} but the shape holds ${JSON.stringify(stored)}`)
  }
}
