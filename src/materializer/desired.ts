/**
 * @module materializer/desired
 * What this node's roles call for (issue 15), computed cheaply when little changed (issue 16): every
 * template of every held role is resolved and checked against the view first, without touching the disk;
 * the result's fingerprint (roles, template CIDs in their canonical text, the values the templates use) tells
 * the service whether anything it would write can differ from the last clean reconcile. Only then are the
 * manifests built — rendered through the render cache, and the same bytes reused while the rendered text is
 * unchanged.
 */
import type { ControlPlaneRole, MeshShape } from '../consensus/shape/core/index.js'
import { movesWithEveryEntry, TemplateRenderer } from './core/index.js'
import type { DesiredManifest, TemplateView } from './core/index.js'
import type { TemplateEntry, TemplateSource } from './template-source.js'
import type { MaterializerState } from './manifest-dir.js'
import { canonicalTemplateCid, sameTemplateCid } from './template-cid.js'

export { canonicalTemplateCid, sameTemplateCid } from './template-cid.js'

/** One template a held role calls for. */
export interface Slot {
  role: ControlPlaneRole
  entry: TemplateEntry
  /** `entry.cid` in its canonical text (canonicalTemplateCid): the header names it, the manifest records it. */
  templateCid: string
  /** An etcd manifest rendered earlier from this template: kept as it is on disk (etcd reads it once). */
  keptEtcd: boolean
  /** The template text, once resolved and checked against the view; undefined when not (yet, or failed). */
  text?: string
  valuesKey?: string
}

/** A template that could not be resolved or rendered: its manifest stays as it is, and the error is recorded. */
export type SlotFailure = (slot: Slot, err: Error) => void

export class DesiredManifests {
  readonly renderer = new TemplateRenderer()
  /** Manifest bytes last built per file name, reused while the rendered text is the same string. */
  private readonly built = new Map<string, { role: string, templateCid: string, text: string, bytes: Uint8Array }>()

  /** `header(role, templateCid)`: the text a manifest starts with; it is given the canonical CID text. */
  constructor (readonly templates: TemplateSource, private readonly header: (role: string, templateCid: string) => string) {}

  /**
   * Every template `roles` call for, each resolved and checked against `view` unless it is a kept etcd one.
   * Resolved all at once: a fetch waits at most TEMPLATE_FETCH_WAIT_MS, for one template or eight.
   */
  async slots (shape: MeshShape, roles: readonly ControlPlaneRole[], state: MaterializerState, view: TemplateView, failed: SlotFailure): Promise<Slot[]> {
    const slots: Slot[] = []
    for (const role of roles) {
      for (const entry of this.templates.entriesOf(shape, role)) {
        const previous = state.files[entry.name]
        const keptEtcd = role === 'etcd' && previous?.role === 'etcd' && sameTemplateCid(previous.templateCid, entry.cid) && state.roles.includes('etcd')
        slots.push({ role, entry, templateCid: canonicalTemplateCid(entry.cid), keptEtcd })
      }
    }
    await Promise.all(slots.filter((s) => !s.keptEtcd).map(async (s) => { await this.prepare(s, view, failed) }))
    return slots
  }

  /**
   * Equal for two reconciles exactly when they would write the same manifests (given the same files). A
   * template is named by its canonical CID text: two spellings of one CID render the same bytes.
   */
  fingerprint (roles: readonly ControlPlaneRole[], slots: readonly Slot[]): string {
    return JSON.stringify([roles, slots.map((s) => [s.role, s.entry.name, s.templateCid, s.keptEtcd ? 'kept' : s.valuesKey])])
  }

  /**
   * Whether a template the slots render uses a value that moves with every applied entry (`shape.index`):
   * then no shape change leaves its output alone. Slots not checked against a view (a kept etcd manifest,
   * a failed template) render nothing here.
   */
  readsEveryEntry (slots: readonly Slot[]): boolean {
    return slots.some((s) => s.text !== undefined && this.renderer.variables(s.text, label(s)).some(movesWithEveryEntry))
  }

  /** The manifests to have on disk: kept etcd ones as they are in `onDisk`, the others rendered. */
  async manifests (slots: readonly Slot[], onDisk: ReadonlyMap<string, Uint8Array>, view: TemplateView, failed: SlotFailure): Promise<DesiredManifest[]> {
    const desired: DesiredManifest[] = []
    // A kept etcd manifest missing from disk is rendered again (its templates resolved all at once, as in `slots`).
    await Promise.all(slots.filter((s) => s.keptEtcd && !onDisk.has(s.entry.name)).map(async (s) => { await this.prepare(s, view, failed) }))
    for (const slot of slots) {
      const { role, entry } = slot
      const current = onDisk.get(entry.name)
      if (slot.keptEtcd && current !== undefined) {
        desired.push({ name: entry.name, role, templateCid: slot.templateCid, bytes: current })
        continue
      }
      if (slot.text === undefined) continue
      desired.push({ name: entry.name, role, templateCid: slot.templateCid, bytes: this.bytes(slot, slot.text, view) })
    }
    return desired
  }

  /** Forgets the bytes built for a removed manifest. */
  forget (name: string): void {
    this.built.delete(name)
  }

  private async prepare (slot: Slot, view: TemplateView, failed: SlotFailure): Promise<void> {
    try {
      const text = await this.templates.text(slot.entry)
      slot.valuesKey = this.renderer.valuesKey(text, view, label(slot))
      slot.text = text
    } catch (err) {
      failed(slot, err as Error)
    }
  }

  private bytes (slot: Slot, templateText: string, view: TemplateView): Uint8Array {
    const text = this.renderer.render(templateText, view, label(slot))
    const built = this.built.get(slot.entry.name)
    if (built !== undefined && built.text === text && built.role === slot.role && built.templateCid === slot.templateCid) return built.bytes
    const bytes = new TextEncoder().encode(this.header(slot.role, slot.templateCid) + text)
    this.built.set(slot.entry.name, { role: slot.role, templateCid: slot.templateCid, text, bytes })
    return bytes
  }
}

const label = (slot: Slot): string => `${slot.entry.name} (${slot.entry.cid})`
