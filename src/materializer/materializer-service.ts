/**
 * @module materializer/materializer-service
 * The materializer (DESIGN.md §9, issue 15): on every node, turns this node's committed control-plane roles
 * into static-pod manifests in `materializer.manifestDir`, and removes the manifests of roles it lost. It
 * reconciles at start (so after a kill -9 nothing stale or half-written stays), on every applied shape
 * change, on membership changes (addresses), and on a timer. Templates come from the committed role catalog
 * (fetched by CID from the content layer and verified) or from the build's default catalog.
 *
 * The etcd manifest is rendered when the node gains the role or its template changes, and then kept: etcd
 * reads its member list only on its first start, and re-rendering it whenever the etcd set moves would
 * restart every etcd member at once. The other components are stateless and follow the shape.
 *
 * Most applied entries change nothing this node renders, so a reconcile is cheap when nothing relevant
 * moved: templates are parsed once and re-rendered only when a value they use changes (render-cache.ts),
 * and a reconcile triggered by a change (not the timer, not the start) whose held roles, template CIDs and
 * used values equal those of the last clean reconcile ends without reading the manifest directory. When
 * only applied shape changes triggered it, it ends earlier still: if the roles this node holds, their
 * templates and what the view reads from the shape (the etcd and api-server holders) are those of the last
 * clean reconcile, and no template it rendered uses `shape.cid` or `shape.index`, nothing it would write
 * can differ, and it builds no view, computes no CID and touches no file. The timer's reconcile always
 * reads the directory, so a manifest deleted or edited on disk is restored.
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { NodeService, ServiceContext } from '../node/service.js'
import type { ConsensusService } from '../consensus/consensus-service.js'
import type { MembershipService } from '../membership/membership-service.js'
import type { ContentService } from '../content/content-service.js'
import { cidOfBytes, parseCid } from '../codec/index.js'
import { CONTROL_PLANE_ROLES } from '../consensus/shape/core/index.js'
import type { ControlPlaneRole, MeshShape, Role } from '../consensus/shape/core/index.js'
import { buildView, planReconcile, roleTransitions, TEMPLATE_BYTES_MAX, viewShapePart } from './core/index.js'
import type { DesiredManifest, ReconcilePlan, TemplateView, ViewShapePart } from './core/index.js'
import { loadDefaultCatalog } from './default-catalog.js'
import { TemplateSource } from './template-source.js'
import { canonicalTemplateCid } from './template-cid.js'
import type { TemplateContent } from './template-source.js'
import { DesiredManifests } from './desired.js'
import type { Slot } from './desired.js'
import { carriesHeader, manifestHeader } from './header.js'
import { ManifestDir } from './manifest-dir.js'
import type { MaterializerState } from './manifest-dir.js'
import { HookRunner } from './hooks.js'
import type { HookName, HookOutcome } from './hooks.js'
import { pickAddress } from './addresses.js'
import { TemplateCidMismatchError } from './errors.js'
import {
  DEFAULT_ETCD_VERSION, DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_KUBERNETES_VERSION, DEFAULT_RECONCILE_INTERVAL_MS, EVENTS_MAX, RECONCILE_SPACING_MS
} from './constants.js'
import { registerMaterializerRoutes } from './routes.js'
import { intervalTicker, type StopDuty } from '../util/ticker.js'

export type { TemplateContent } from './template-source.js'

export interface MaterializerInit {
  /** @default config.materializer.manifestDir ?? `<data-dir>/manifests` */
  manifestDir?: string
  /** The content layer; @default the node's `content` service, when it runs */
  content?: TemplateContent
  /** The address other machines reach a node at; @default its signed heartbeats (or `materializer.advertiseAddress`) */
  addressOf?: (nodeId: string) => string | undefined
  /** @default RECONCILE_SPACING_MS: how long after a reconcile that wrote or removed files the next one may start */
  reconcileSpacingMs?: number
}

/** How much work reconciles did (GET /v1/status, and tests that prove work is skipped). */
export interface MaterializerCounters {
  /** Reconciles that read the manifest directory and acted on it. */
  reconciles: number
  /** Reconciles ended early: nothing this node renders changed since the last clean reconcile. */
  skipped: number
  /** Of those, the ones ended before building the view: only the shape moved, and nothing of it this node reads. */
  skippedBeforeView: number
  /** Reads of the manifest directory. */
  manifestReads: number
  /** Templates parsed (each text once while cached). */
  parses: number
  /** Templates rendered to YAML (only when a value the template uses changed). */
  renders: number
  /** Manifest files read (a reconcile after a clean one reads only files it does not know the bytes of). */
  manifestFilesRead: number
  /** State-file writes (each atomic: temporary file, fdatasync, rename, directory fsync). */
  stateWrites: number
}

/** What one reconcile works from, read from the committed shape and the membership view. */
interface ReconcileInputs {
  shape: MeshShape
  shapeCid: string
  appliedIndex: number
  roles: ControlPlaneRole[]
  view: TemplateView
  missingAddresses: string[]
}

export interface ManifestRecord {
  name: string
  role: ControlPlaneRole
  /** The template's CID in its canonical text (what the manifest's header names), whatever the catalog's spelling. */
  templateCid: string
  /** BLAKE3 CID (raw) of the manifest bytes as written. */
  manifestCid: string
  writtenAtMs: number
}

export interface MaterializerEvent {
  atMs: number
  kind: 'write' | 'remove' | 'conflict' | 'error' | 'hook-ok' | 'hook-failed' | 'cleanup'
  message: string
  role?: string
  name?: string
}

export class MaterializerService implements NodeService {
  readonly name = 'materializer'
  private ctx!: ServiceContext
  private consensus!: ConsensusService
  private membership: MembershipService | undefined
  private dir!: ManifestDir
  private hooks: HookRunner | undefined
  private desired = new DesiredManifests(new TemplateSource(new Map(), () => undefined), manifestHeader)
  private readonly manifestCids = new WeakMap<Uint8Array, string>()
  private readonly records = new Map<string, ManifestRecord>()
  private readonly events: MaterializerEvent[] = []
  private state: MaterializerState = { files: {}, roles: [] }
  /** The roles the hooks queued so far lead to: the next reconcile's hooks run the transitions from these. */
  private hookBase: string[] = []
  /** The state write recording that the queued hooks have all run (stop() waits for it). */
  private hooksEndWrite: Promise<void> | undefined
  private stopTimer: StopDuty | undefined
  private unsubscribers: Array<() => void> = []
  private reconciling: Promise<void> | undefined
  private again = false
  /** A run is scheduled but has not started: a new call is covered by it. */
  private waiting = false
  /** The next reconcile must read the manifest directory (the timer, the start, a test). */
  private fullPending = false
  /** Something besides an applied shape change asked for the next reconcile (membership, a caller). */
  private broadPending = false
  /**
   * What the last clean reconcile (no errors, no conflicts) worked from; undefined after any other.
   * `fingerprint`: roles, template CIDs and the values the templates used. `reading`: what it read of the
   * shape (see readShape()), undefined when a template it rendered uses a value that moves with every entry.
   */
  private settled: { fingerprint: string, reading: ShapeReading | undefined } | undefined
  /**
   * The manifests the last clean reconcile left in the directory (name → bytes); undefined after any other.
   * The next reconcile triggered by a change reads only the other files — the trust the skip above already
   * places in the directory; the timer's reconcile reads every file.
   */
  private onDisk: ReadonlyMap<string, Uint8Array> | undefined
  private stopped = false
  /** The named set (sorted, joined) the last `syncCatalogPins` gave the content layer; undefined after a failure. */
  private catalogPinsKey: string | undefined
  /** Templates a `catalog set` here is proposing (canonical CID text → requests), pinned though not named yet. */
  private readonly proposing = new Map<string, number>()
  /** When (performance.now()) the last reconcile that wrote or removed files ended. */
  private actedAtMs = Number.NEGATIVE_INFINITY
  /** A scheduled run waiting out the spacing after such a reconcile; `now()` starts it at once. */
  private spacing: { now: () => void } | undefined
  /** The shape's CID is computed when someone reads it (GET /v1/manifests), not per reconcile. */
  private lastReconcile: { atMs: number, appliedIndex: number, shape: MeshShape, missingAddresses: string[] } | undefined
  reconciles = 0
  skipped = 0
  skippedBeforeView = 0
  manifestReads = 0

  constructor (private readonly init: MaterializerInit = {}) {}

  get manifestDir (): string {
    return this.dir.dir
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    const consensus = ctx.service<ConsensusService>('consensus')
    if (consensus === undefined) throw new Error('the materializer needs the consensus service')
    this.consensus = consensus
    this.membership = ctx.service<MembershipService>('membership')
    const config = ctx.config.materializer
    const manifestDir = path.resolve(this.init.manifestDir ?? config?.manifestDir ?? path.join(ctx.config.dataDir, 'manifests'))
    this.dir = new ManifestDir(manifestDir, path.join(ctx.config.dataDir, 'materializer'), ctx.log)
    const leftovers = await this.dir.open()
    for (const name of leftovers) this.record({ kind: 'cleanup', message: `removed ${name}, a temporary file a crash left behind`, name })
    const { state, disowned } = await this.dir.loadState((entry, text) => carriesHeader(text, entry.role, entry.templateCid))
    this.state = state
    this.hookBase = [...(state.hookRoles ?? state.roles)]
    if (disowned.length > 0) {
      // Not ours here (another directory's state, or no header of ours): a file of one of these names is foreign.
      const message = `the state file names ${disowned.join(', ')}, not written by this node in ${manifestDir}: managed no more (any left in an earlier manifest directory are the operator's to remove)`
      this.record({ kind: 'conflict', message })
      ctx.log.warn({ manifestDir, disowned }, message)
    }
    // A template fetch that outlived its reconcile's wait: its arrival is rendered by a reconcile of its own.
    const templateInit = {
      onArrived: () => { this.schedule() },
      onFailed: (cid: string, err: Error) => {
        this.record({ kind: 'error', message: `fetching template ${cid} failed: ${err.message}` })
        ctx.log.warn({ cid, err: err.message }, 'materializer: a template fetch failed; retrying at the next reconcile')
      }
    }
    try {
      this.desired = new DesiredManifests(new TemplateSource(loadDefaultCatalog(), () => this.content(), templateInit), manifestHeader)
    } catch (err) {
      this.desired = new DesiredManifests(new TemplateSource(new Map(), () => this.content(), templateInit), manifestHeader)
      // A build without catalog/ still runs: roles without a committed catalog render nothing, and say so.
      this.record({ kind: 'error', message: `no default role catalog: ${(err as Error).message}` })
      ctx.log.error({ err: (err as Error).message }, 'the default role catalog is missing: commit one with `revoada catalog set`')
    }
    const hooks = ctx.config.hooks
    if (hooks?.onPromote !== undefined || hooks?.onDemote !== undefined) {
      this.hooks = new HookRunner({ timeoutMs: hooks.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS, log: ctx.log, onOutcome: (o) => this.onHookOutcome(o), onIdle: () => this.onHooksIdle() })
    }
    this.unsubscribers.push(consensus.shapeMachine.onChange(() => this.schedule({ onlyShape: true })))
    if (this.membership !== undefined) this.unsubscribers.push(this.membership.subscribe(() => this.schedule()))
    // The timer's reconcile reads the directory: it is what restores a manifest deleted or edited on disk.
    this.stopTimer = (ctx.ticker ?? intervalTicker).every(config?.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS, () => { this.schedule({ full: true }) })
    await this.reconcile()
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.spacing?.now()
    this.stopTimer?.()
    for (const unsubscribe of this.unsubscribers) unsubscribe()
    this.unsubscribers = []
    this.hooks?.stop()
    this.desired.templates.close()
    await this.reconciling?.catch(() => {})
    await this.hooksEndWrite
  }

  /**
   * Runs a reconcile soon. The run starts on a later turn of the event loop, never inside the caller (the
   * Raft apply path calls this for every applied entry); calls before it starts are covered by it, calls
   * while it runs coalesce into one more run after it: a burst of applied entries costs one run, or one
   * running and one queued. `full`: read the manifest directory even if nothing this node renders changed.
   * `onlyShape`: the caller knows that nothing but the committed shape moved (the apply path); a call
   * without it may stand for anything else (an address), so its run builds the view.
   */
  schedule (options: { full?: boolean, onlyShape?: boolean } = {}): void {
    if (this.stopped) return
    if (options.full === true) this.fullPending = true
    if (options.onlyShape !== true) this.broadPending = true
    this.runSoon()
  }

  /** Starts a run on a later turn, or one more after the running one (the flags above say what it must do). */
  private runSoon (): void {
    if (this.stopped) return
    if (this.reconciling !== undefined) {
      if (!this.waiting) this.again = true
      return
    }
    this.waiting = true
    // After a reconcile that wrote or removed files, the next waits out the spacing: what is committed by
    // then is written once (a role that flips back and forth meanwhile costs no file operation at all).
    const delayMs = this.actedAtMs + (this.init.reconcileSpacingMs ?? RECONCILE_SPACING_MS) - performance.now()
    const turn = new Promise<void>((resolve) => {
      if (delayMs <= 0) { setImmediate(resolve); return }
      const timer = setTimeout(() => { this.spacing = undefined; resolve() }, delayMs)
      this.spacing = { now: () => { clearTimeout(timer); this.spacing = undefined; resolve() } }
    })
    this.reconciling = turn.then(async () => { this.waiting = false; await this.reconcileOnce() }).finally(() => {
      this.reconciling = undefined
      if (this.again) { this.again = false; this.runSoon() }
    })
  }

  /** Reconciles now, reading the manifest directory (waits for a running reconcile and a state write first). */
  async reconcile (): Promise<void> {
    await this.hooksEndWrite
    this.spacing?.now()
    while (this.reconciling !== undefined) await this.reconciling
    this.schedule({ full: true })
    this.spacing?.now()
    await this.reconciling
  }

  private async reconcileOnce (): Promise<void> {
    if (this.stopped) return
    const full = this.fullPending
    const broad = this.broadPending
    this.fullPending = false
    this.broadPending = false
    try {
      await this.reconcileSteps(full, broad)
    } catch (err) {
      this.settled = undefined
      this.record({ kind: 'error', message: `reconcile failed: ${(err as Error).message}` })
      this.ctx.log.warn({ err }, 'materializer reconcile failed; retrying on the next change or tick')
    }
    try {
      await this.syncCatalogPins(full)
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'materializer: the content pins of the role catalog were not updated; the next reconcile tries again')
    }
  }

  /**
   * Tells the content layer which templates the applied catalog names (every role's: this node may hold one
   * it added for a role it does not hold), with those a `catalog set` here is proposing, whenever that set
   * changed since the last call that succeeded, and at every full reconcile (the start, the timer). The pins
   * of templates no catalog names any more are released, so gc frees them: else a key holder committing
   * catalog after catalog, each naming new templates, filled every holder's content quota for good
   * (docs/CONTENT.md §3). Pins persist in the content index, so the start's call brings a restarted node to
   * the pins of the catalog it applied.
   */
  private async syncCatalogPins (full: boolean): Promise<void> {
    const content = this.content()
    if (content?.pinCatalog === undefined || !this.consensus.started || this.stopped) return
    const shape = this.consensus.shapeMachine.shape
    const named = new Set<string>(this.proposing.keys())
    for (const role of CONTROL_PLANE_ROLES) for (const t of shape.templatesOf(role)) named.add(canonicalTemplateCid(t.cid))
    const key = [...named].sort().join(' ')
    if (!full && key === this.catalogPinsKey) return
    this.catalogPinsKey = undefined
    await content.pinCatalog(named)
    this.catalogPinsKey = key
  }

  /**
   * Runs a `catalog set` (routes.ts): the templates it adds (`hold`) keep their pins until its proposal ends,
   * though no applied catalog names them yet; a reconcile then releases those of a proposal that failed.
   */
  async whileProposing<T> (run: (hold: (cid: string) => void) => Promise<T>): Promise<T> {
    const held: string[] = []
    try {
      return await run((cid) => {
        const key = canonicalTemplateCid(cid)
        held.push(key)
        this.proposing.set(key, (this.proposing.get(key) ?? 0) + 1)
      })
    } finally {
      for (const key of held) {
        const count = (this.proposing.get(key) ?? 1) - 1
        if (count > 0) this.proposing.set(key, count)
        else this.proposing.delete(key)
      }
      this.schedule()
    }
  }

  private async reconcileSteps (full: boolean, broad: boolean): Promise<void> {
    if (!this.consensus.started) { this.fullPending ||= full; this.broadPending ||= broad; return }
    const shape = this.consensus.shapeMachine.shape
    const settledReading = this.settled?.reading
    if (!full && !broad && settledReading !== undefined && this.lastReconcile !== undefined && sameReading(this.readShape(shape), settledReading)) {
      // The addresses did not move either (a membership change is a broad call): so neither did missingAddresses.
      this.lastReconcile = { ...this.lastReconcile, atMs: Date.now(), appliedIndex: this.consensus.node.appliedIndex(), shape }
      this.skipped++
      this.skippedBeforeView++
      return
    }
    const inputs = this.inputs(shape)
    // A template that cannot be fetched or rendered keeps its current manifest, and is recorded each time.
    const keep = new Set<string>()
    const failed = (slot: Slot, err: Error): void => {
      keep.add(slot.entry.name)
      this.record({ kind: 'error', role: slot.role, name: slot.entry.name, message: `cannot render ${slot.entry.name} for ${slot.role}: ${err.message}` })
    }
    const slots = await this.desired.slots(shape, inputs.roles, this.state, inputs.view, failed)
    const fingerprint = keep.size > 0 ? undefined : this.desired.fingerprint(inputs.roles, slots)
    const summary = { atMs: Date.now(), appliedIndex: inputs.appliedIndex, shape, missingAddresses: inputs.missingAddresses }
    if (!full && fingerprint !== undefined && fingerprint === this.settled?.fingerprint) {
      // The same manifests as the clean reconcile's: this shape is as good a reference for the early skip.
      this.settled = this.settledOn(fingerprint, slots, shape)
      this.lastReconcile = summary
      this.skipped++
      return
    }
    this.settled = undefined
    const known = full ? undefined : this.onDisk
    this.onDisk = undefined
    const managed = new Set(Object.keys(this.state.files))
    const { files: onDiskBefore, unreadable } = await this.dir.read([...managed, ...slots.map((s) => s.entry.name)], known)
    this.manifestReads++
    const desired = await this.desired.manifests(slots, onDiskBefore, inputs.view, failed)
    const plan = planReconcile(desired, managed, onDiskBefore, keep, unreadable)
    await this.applyPlan(plan, inputs)
    this.lastReconcile = { ...summary, atMs: Date.now() }
    this.reconciles++
    if (keep.size === 0 && fingerprint !== undefined && plan.conflicts.length === 0) {
      this.settled = this.settledOn(fingerprint, slots, shape)
      this.onDisk = new Map([...plan.writes, ...plan.unchanged].map((m) => [m.name, m.bytes]))
    }
  }

  private inputs (shape: MeshShape): ReconcileInputs {
    const nodeId = this.ctx.nodeId
    const shapeCid = this.consensus.shapeMachine.cidOf(shape)
    const appliedIndex = this.consensus.node.appliedIndex()
    const roles = this.rolesHeld(shape)
    const { view, missingAddresses } = buildView({
      nodeId, shape, shapeCid, appliedIndex, addressOf: this.addressBook(),
      kubernetesVersion: this.kubernetesVersion(), etcdVersion: this.ctx.config.materializer?.etcdVersion ?? DEFAULT_ETCD_VERSION
    })
    return { shape, shapeCid, appliedIndex, roles, view, missingAddresses }
  }

  private settledOn (fingerprint: string, slots: readonly Slot[], shape: MeshShape): NonNullable<MaterializerService['settled']> {
    return { fingerprint, reading: this.desired.readsEveryEntry(slots) ? undefined : this.readShape(shape) }
  }

  private rolesHeld (shape: MeshShape): ControlPlaneRole[] {
    return CONTROL_PLANE_ROLES.filter((role) => shape.holds(this.ctx.nodeId, role))
  }

  /**
   * Everything a reconcile reads from `shape` besides its CID and index: the roles this node holds, their
   * templates, and the shape's part of the view. Equal readings, equal addresses and templates that use
   * neither CID nor index: the same manifests.
   */
  private readShape (shape: MeshShape): ShapeReading {
    const roles = this.rolesHeld(shape)
    const templates = roles.flatMap((role) => this.desired.templates.entriesOf(shape, role).map((entry) => ({ role, name: entry.name, cid: entry.cid })))
    return { roles, templates, part: viewShapePart(shape) }
  }

  /** Writes and removes what the plan says (the state file names a superset of our files), then runs hooks. */
  private async applyPlan (plan: ReconcilePlan, inputs: ReconcileInputs): Promise<void> {
    const { roles, shapeCid, appliedIndex } = inputs
    for (const conflict of plan.conflicts) this.record({ kind: 'conflict', name: conflict.name, message: conflict.why })
    const previousRoles = this.state.roles as Role[]
    // Record every name before writing it, so the state always names a superset of what we wrote. Without
    // hooks the roles (which only steer hooks) go in the same write, and the state is then written once.
    // NB: a write that fails (a full disk) holds back the other writes, not the removals below: they need no
    // room, and a lost role's component must stop. Before, the first failure ended the reconcile there.
    let writeFailure: Error | undefined
    if (plan.writes.length > 0) {
      for (const m of plan.writes) this.state.files[m.name] = { role: m.role, templateCid: m.templateCid }
      if (this.hooks === undefined) this.state.roles = roles
      writeFailure = await this.dir.writeState(this.state).then(() => undefined, (err: Error) => err)
    }
    for (const m of writeFailure === undefined ? plan.writes : []) {
      writeFailure = await this.dir.write(m.name, m.bytes).then(() => undefined, (err: Error) => err)
      if (writeFailure !== undefined) {
        this.record({ kind: 'error', role: m.role, name: m.name, message: `cannot write ${m.name} for ${m.role}: ${writeFailure.name}: ${writeFailure.message}` })
        break
      }
      this.noteManifest(m)
      this.record({ kind: 'write', role: m.role, name: m.name, message: `wrote ${m.name} for ${m.role} from template ${m.templateCid}` })
    }
    for (const m of plan.unchanged) this.noteManifest(m)
    for (const name of plan.removals) {
      await this.dir.remove(name)
      const role = this.state.files[name]?.role
      // Still holding the role, the file went because the role's catalog no longer renders it.
      const why = role !== undefined && (roles as readonly string[]).includes(role) ? `the catalog of ${role} no longer has it` : `this node no longer holds ${role ?? 'its role'}`
      this.record({ kind: 'remove', role, name, message: `removed ${name}: ${why}` })
      delete this.state.files[name]
      this.records.delete(name)
      this.desired.forget(name)
    }
    if (writeFailure !== undefined) {
      // The state names a superset of the files still (the failed names included); written if it can be, the
      // removals are recorded. Roles and hooks wait for the reconcile that writes the rest.
      if (plan.removals.length > 0) await this.dir.writeState(this.state).catch(() => {})
      if (plan.removals.length > 0) this.actedAtMs = performance.now()
      throw writeFailure
    }
    for (const m of [...plan.writes, ...plan.unchanged]) this.state.files[m.name] = { role: m.role, templateCid: m.templateCid }
    const transitions = roleTransitions(previousRoles, roles)
    this.state.roles = roles
    const runs = this.hookRuns(roles)
    // Until the hooks queued now have all run, the state names the roles the last ones ended at: a node that
    // stops before runs them again at its next start (onHooksIdle records their end).
    if (runs.length > 0) this.state.hookRoles ??= [...this.hookBase]
    else if (this.hooks?.idle ?? true) delete this.state.hookRoles
    // An unchanged state is not written again (the write before the manifests may already hold it).
    if (plan.writes.length > 0 || plan.removals.length > 0 || transitions.gained.length + transitions.lost.length > 0 || runs.length > 0) await this.dir.writeState(this.state)
    if (plan.writes.length > 0 || plan.removals.length > 0) this.actedAtMs = performance.now()
    this.hookBase = roles
    for (const run of runs) this.hooks?.enqueue({ ...run, nodeId: this.ctx.nodeId, shapeCid, index: appliedIndex })
  }

  /** The hook runs of the transitions from the roles the hooks last acted on to `roles`: demotions first. */
  private hookRuns (roles: readonly ControlPlaneRole[]): Array<{ hook: HookName, executable: string, role: ControlPlaneRole }> {
    if (this.hooks === undefined) return []
    const transitions = roleTransitions(this.hookBase as Role[], roles)
    const runs: Array<{ hook: HookName, executable: string, role: ControlPlaneRole }> = []
    const add = (hook: HookName, role: ControlPlaneRole): void => {
      const executable = this.ctx.config.hooks?.[hook]
      if (executable !== undefined) runs.push({ hook, executable, role })
    }
    for (const role of transitions.lost) add('onDemote', role)
    for (const role of transitions.gained) add('onPromote', role)
    return runs
  }

  /** Every queued hook has run: their end is recorded, so the next start does not run them again. */
  private onHooksIdle (): void {
    if (this.stopped || this.state.hookRoles === undefined) return
    const base = [...this.hookBase].sort()
    const roles = [...this.state.roles].sort()
    if (base.length === roles.length && base.every((role, i) => role === roles[i])) delete this.state.hookRoles
    else this.state.hookRoles = base
    this.hooksEndWrite = this.dir.writeState(this.state).catch((err: unknown) => {
      // Not recorded: the next start runs those hooks once more.
      this.record({ kind: 'error', message: `recording the hooks' end failed: ${(err as Error).message}` })
      this.ctx.log.warn({ err }, 'materializer: recording the hooks\' end failed')
    })
  }

  /** Keeps the record shown by `revoada manifests` (the write time is kept while the bytes stay the same). */
  private noteManifest (m: DesiredManifest): void {
    let manifestCid = this.manifestCids.get(m.bytes)
    if (manifestCid === undefined) {
      manifestCid = cidOfBytes(m.bytes).toString()
      this.manifestCids.set(m.bytes, manifestCid)
    }
    const known = this.records.get(m.name)
    if (known?.manifestCid === manifestCid && known.templateCid === m.templateCid) return
    this.records.set(m.name, { name: m.name, role: m.role, templateCid: m.templateCid, manifestCid, writtenAtMs: Date.now() })
  }

  /**
   * The content layer, when this node runs it. Templates are pinned where they are added and where they are
   * fetched: content the committed catalog names is never garbage-collected (DESIGN.md §7). The pins are the
   * catalog's (`pin: 'catalog'`), released once no applied catalog names the template (`syncCatalogPins`),
   * never an operator's. A fetch ends at
   * the caller's signal, and an object over TEMPLATE_BYTES_MAX is refused (ObjectTooLargeError) once its
   * manifest gives its size, before any chunk is fetched, and is neither recorded nor pinned: a committed
   * catalog naming a huge object cost every holder of the role a download and a pin of all of it. So is a
   * directory (NotAFileError, `filesOnly`) once its manifest is held, before anything below it: a catalog naming
   * one was fetched and pinned, up to the limit, before the read found no file.
   */
  content (): TemplateContent | undefined {
    if (this.init.content !== undefined) return this.init.content
    const service = this.ctx.service<ContentService>('content')
    if (service === undefined) return undefined
    return {
      add: async (bytes) => (await service.add(bytes, { pin: 'catalog' })).cidObject.toString(),
      get: async (text, options = {}) => {
        const cid = parseCid(text)
        if (cid === null) throw new TemplateCidMismatchError(text)
        return await service.get(cid, { pin: 'catalog', maxBytes: TEMPLATE_BYTES_MAX, filesOnly: true, ...(options.signal !== undefined ? { signal: options.signal } : {}) })
      },
      pinCatalog: async (named) => { await service.pinCatalog(named) }
    }
  }

  /** Where each node is reached, from one membership view per reconcile (a view computes every member's phi). */
  private addressBook (): (nodeId: string) => string | undefined {
    const injected = this.init.addressOf
    if (injected !== undefined) return injected
    let members: Map<string, readonly string[]> | undefined
    return (nodeId) => {
      if (nodeId === this.ctx.nodeId && this.ctx.config.materializer?.advertiseAddress !== undefined) return this.ctx.config.materializer.advertiseAddress
      members ??= new Map((this.membership?.view().members ?? []).map((m) => [m.nodeId, m.state.addresses]))
      const addresses = members.get(nodeId)
      if (addresses !== undefined) return pickAddress(addresses)
      if (nodeId === this.ctx.nodeId) return pickAddress(this.ctx.net.getMultiaddrs().map((a) => a.toString()))
      return undefined
    }
  }

  private kubernetesVersion (): string {
    return this.ctx.config.materializer?.kubernetesVersion ?? this.ctx.config.membership?.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION
  }

  private onHookOutcome (outcome: HookOutcome): void {
    const { run } = outcome
    const output = outcome.output.trim()
    if (outcome.ok) {
      this.ctx.log.info({ hook: run.hook, role: run.role, output }, `hook ${run.hook} for ${run.role} succeeded`)
      this.record({ kind: 'hook-ok', role: run.role, message: outcome.message })
      return
    }
    const retry = outcome.retryInMs !== null ? `; retry ${outcome.attempt + 1} in ${outcome.retryInMs} ms` : '; given up'
    this.ctx.log.warn({ hook: run.hook, role: run.role, exitCode: outcome.exitCode, output }, `hook ${run.hook} failed${retry}`)
    this.record({ kind: 'hook-failed', role: run.role, message: `attempt ${outcome.attempt}: ${outcome.message}${retry}` })
  }

  private record (event: Omit<MaterializerEvent, 'atMs'>): void {
    this.events.push({ atMs: Date.now(), ...event })
    if (this.events.length > EVENTS_MAX) this.events.splice(0, this.events.length - EVENTS_MAX)
    if (event.kind === 'write' || event.kind === 'remove') this.ctx.log.info({ name: event.name, role: event.role }, event.message)
  }

  /** What this node materialized (GET /v1/manifests, `revoada manifests`). */
  manifests (): { manifestDir: string, roles: string[], files: ManifestRecord[], hooksPending: number, lastReconcile: unknown, events: MaterializerEvent[] } {
    return {
      manifestDir: this.dir.dir,
      roles: [...this.state.roles],
      files: [...this.records.values()].sort((a, b) => a.name < b.name ? -1 : 1),
      hooksPending: this.hooks?.pending ?? 0,
      lastReconcile: this.lastReconcile === undefined ? null : this.reconcileSummary(this.lastReconcile),
      events: [...this.events]
    }
  }

  private reconcileSummary ({ shape, ...rest }: NonNullable<MaterializerService['lastReconcile']>): { atMs: number, appliedIndex: number, shapeCid: string, missingAddresses: string[] } {
    return { atMs: rest.atMs, appliedIndex: rest.appliedIndex, shapeCid: this.consensus.shapeMachine.cidOf(shape), missingAddresses: rest.missingAddresses }
  }

  /** The effective catalog: the committed templates per role, or the build's defaults. */
  catalog (): Array<{ role: ControlPlaneRole, source: 'committed' | 'default', templates: Array<{ name: string, cid: string }> }> {
    const shape = this.consensus.shapeMachine.shape
    return CONTROL_PLANE_ROLES.map((role) => {
      const source = shape.templatesOf(role).length > 0 ? 'committed' as const : 'default' as const
      return { role, source, templates: this.desired.templates.entriesOf(shape, role) }
    })
  }

  status (): Record<string, unknown> {
    return { manifestDir: this.dir.dir, files: this.records.size, ...this.counters() }
  }

  counters (): MaterializerCounters {
    return {
      reconciles: this.reconciles, skipped: this.skipped, skippedBeforeView: this.skippedBeforeView, manifestReads: this.manifestReads, parses: this.desired.renderer.parses, renders: this.desired.renderer.renders,
      manifestFilesRead: this.dir.filesRead, stateWrites: this.dir.stateWrites
    }
  }

  routes (app: FastifyInstance): void {
    registerMaterializerRoutes(app, this)
  }

  get consensusService (): ConsensusService {
    return this.consensus
  }
}

/** What a reconcile reads of the shape besides its CID and the applied index (compared per applied Ready). */
interface ShapeReading {
  roles: readonly ControlPlaneRole[]
  templates: ReadonlyArray<{ role: ControlPlaneRole, name: string, cid: string }>
  part: ViewShapePart
}

/** Element by element: a JSON key cost ten times more per reconcile (the template CIDs are long). */
function sameReading (a: ShapeReading, b: ShapeReading): boolean {
  return sameStrings(a.roles, b.roles) && sameStrings(a.part.voters, b.part.voters) && sameStrings(a.part.apiServers, b.part.apiServers) &&
    a.templates.length === b.templates.length &&
    a.templates.every((t, i) => t.role === b.templates[i]?.role && t.name === b.templates[i]?.name && t.cid === b.templates[i]?.cid)
}

function sameStrings (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
