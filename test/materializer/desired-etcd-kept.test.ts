/**
 * An etcd manifest stays as it is on disk while its template is the same (src/materializer/desired.ts): etcd
 * reads its manifest once, and a rewrite restarts it. "The same" is the same CID, not the same text: the raise
 * to protocol level 7 rewrites a catalog's mixed-case or padded spelling to its canonical text, and a text
 * comparison would re-render the manifest on every etcd holder at once (docs/MATERIALIZER.md).
 */
import { describe, expect, it } from 'vitest'
import { cidOfBytes } from '../../src/codec/index.js'
import type { MeshShape } from '../../src/consensus/shape/core/index.js'
import { DesiredManifests, sameTemplateCid } from '../../src/materializer/desired.js'
import type { Slot } from '../../src/materializer/desired.js'
import type { MaterializerState } from '../../src/materializer/manifest-dir.js'
import type { TemplateSource } from '../../src/materializer/template-source.js'
import type { TemplateView } from '../../src/materializer/core/index.js'

const canonical = cidOfBytes(new TextEncoder().encode('kind: Pod # etcd')).toString()
const other = cidOfBytes(new TextEncoder().encode('kind: Pod # another etcd')).toString()
/** The same CID, one letter upper-cased (base32 decodes either case). */
const mixedCase = canonical.slice(0, 10) + canonical.charAt(10).toUpperCase() + canonical.slice(11)

async function etcdSlot (recorded: string): Promise<Slot> {
  const templates = { entriesOf: () => [{ name: 'etcd.yaml', cid: canonical }] } as unknown as TemplateSource
  const desired = new DesiredManifests(templates, () => '')
  const state: MaterializerState = { files: { 'etcd.yaml': { role: 'etcd', templateCid: recorded } }, roles: ['etcd'] }
  const failures: Error[] = []
  // A slot that is not kept is resolved against the view: this source has no text, so it fails there.
  const slots = await desired.slots({} as MeshShape, ['etcd'], state, {} as TemplateView, (_slot, err) => { failures.push(err) })
  expect(slots).toHaveLength(1)
  return slots[0] as Slot
}

describe('an etcd manifest kept across the raise to protocol level 7', () => {
  it('should name the same template by a mixed-case spelling of its CID, and not by another CID', () => {
    expect(mixedCase).not.toBe(canonical)
    expect(sameTemplateCid(mixedCase, canonical)).toBe(true)
    expect(sameTemplateCid(canonical + '=', canonical)).toBe(true)
    expect(sameTemplateCid(other, canonical)).toBe(false)
    expect(sameTemplateCid('not a cid', 'not a cid')).toBe(true)
    expect(sameTemplateCid('not a cid', canonical)).toBe(false)
  })

  it('should keep the etcd manifest rendered from the old spelling, and not one rendered from another template', async () => {
    expect((await etcdSlot(mixedCase)).keptEtcd).toBe(true)
    expect((await etcdSlot(canonical)).keptEtcd).toBe(true)
    expect((await etcdSlot(other)).keptEtcd).toBe(false)
  })
})
