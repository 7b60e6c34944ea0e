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
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { NodeService, ServiceContext } from '../node/service.js'
import type { ConsensusService } from '../consensus/consensus-service.js'
import type { MembershipService } from '../membership/membership-service.js'
import type { ContentService } from '../content/content-service.js'
import { cidOfBytes, parseCid, verifyCid } from '../codec/index.js'
import { CONTROL_PLANE_ROLES } from '../consensus/shape/core/index.js'
import type { ControlPlaneRole, Role } from '../consensus/shape/core/index.js'
import { buildView, planReconcile, renderTemplate, roleTransitions } from './core/index.js'
import type { DesiredManifest } from './core/index.js'
import { loadDefaultCatalog } from './default-catalog.js'
import type { Template } from './default-catalog.js'
import { ManifestDir } from './manifest-dir.js'
import type { MaterializerState } from './manifest-dir.js'
import { HookRunner } from './hooks.js'
import type { HookName, HookOutcome } from './hooks.js'
import { pickAddress } from './addresses.js'
import { ContentUnavailableError, TemplateCidMismatchError, TemplateUnavailableError } from './errors.js'
import {
  DEFAULT_ETCD_VERSION, DEFAULT_HOOK_TIMEOUT_MS, DEFAULT_KUBERNETES_VERSION, DEFAULT_RECONCILE_INTERVAL_MS, EVENTS_MAX,
  TEMPLATE_FETCH_TIMEOUT_MS
} from './constants.js'
import { registerMaterializerRoutes } from './routes.js'

/** What the materializer needs of the content layer (issue 13): store bytes, fetch verified bytes by CID. */
export interface TemplateContent {
  add: (bytes: Uint8Array) => Promise<string>
  get: (cid: string, options?: { signal?: AbortSignal }) => Promise<Uint8Array>
}

export interface MaterializerInit {
  /** @default config.materializer.manifestDir ?? `<data-dir>/manifests` */
  manifestDir?: string
  /** The content layer; @default the node's `content` service, when it runs */
  content?: TemplateContent
}

export interface ManifestRecord {
  name: string
  role: ControlPlaneRole
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
  private defaults = new Map<ControlPlaneRole, Template[]>()
  private readonly fetched = new Map<string, Uint8Array>()
  private readonly records = new Map<string, ManifestRecord>()
  private readonly events: MaterializerEvent[] = []
  private state: MaterializerState = { files: {}, roles: [] }
  private timer: NodeJS.Timeout | undefined
  private unsubscribers: Array<() => void> = []
  private reconciling: Promise<void> | undefined
  private again = false
  private stopped = false
  private lastReconcile: { atMs: number, appliedIndex: number, shapeCid: string, missingAddresses: string[] } | undefined
  reconciles = 0

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
    this.dir = new ManifestDir(manifestDir, path.join(ctx.config.dataDir, 'materializer'))
    const leftovers = await this.dir.open()
    for (const name of leftovers) this.record({ kind: 'cleanup', message: `removed ${name}, a temporary file a crash left behind`, name })
    this.state = await this.dir.readState()
    try {
      this.defaults = loadDefaultCatalog()
    } catch (err) {
      // A build without catalog/ still runs: roles without a committed catalog render nothing, and say so.
      this.record({ kind: 'error', message: `no default role catalog: ${(err as Error).message}` })
      ctx.log.error({ err: (err as Error).message }, 'the default role catalog is missing: commit one with `revoada catalog set`')
    }
    const hooks = ctx.config.hooks
    if (hooks?.onPromote !== undefined || hooks?.onDemote !== undefined) {
      this.hooks = new HookRunner({ timeoutMs: hooks.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS, log: ctx.log, onOutcome: (o) => this.onHookOutcome(o) })
    }
    this.unsubscribers.push(consensus.shapeMachine.onChange(() => this.schedule()))
    if (this.membership !== undefined) this.unsubscribers.push(this.membership.subscribe(() => this.schedule()))
    this.timer = setInterval(() => this.schedule(), config?.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS)
    this.timer.unref()
    await this.reconcile()
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const unsubscribe of this.unsubscribers) unsubscribe()
    this.unsubscribers = []
    this.hooks?.stop()
    await this.reconciling?.catch(() => {})
  }

  /** Runs a reconcile soon; calls while one runs coalesce into one more run after it. */
  schedule (): void {
    if (this.stopped) return
    if (this.reconciling !== undefined) { this.again = true; return }
    this.reconciling = this.reconcileOnce().finally(() => {
      this.reconciling = undefined
      if (this.again) { this.again = false; this.schedule() }
    })
  }

  /** Reconciles now (waits for a running reconcile first). */
  async reconcile (): Promise<void> {
    while (this.reconciling !== undefined) await this.reconciling
    this.schedule()
    await this.reconciling
  }

  private async reconcileOnce (): Promise<void> {
    try {
      await this.reconcileSteps()
    } catch (err) {
      this.record({ kind: 'error', message: `reconcile failed: ${(err as Error).message}` })
      this.ctx.log.warn({ err }, 'materializer reconcile failed; retrying on the next change or tick')
    }
  }

  private async reconcileSteps (): Promise<void> {
    if (!this.consensus.started) return
    const nodeId = this.ctx.nodeId
    const shape = this.consensus.shapeMachine.shape
    const shapeCid = this.consensus.shapeMachine.shapeCid()
    const appliedIndex = this.consensus.node.appliedIndex()
    const roles = CONTROL_PLANE_ROLES.filter((role) => shape.holds(nodeId, role))
    const { view, missingAddresses } = buildView({
      nodeId, shape, shapeCid, appliedIndex, addressOf: (id) => this.addressOf(id),
      kubernetesVersion: this.kubernetesVersion(), etcdVersion: this.ctx.config.materializer?.etcdVersion ?? DEFAULT_ETCD_VERSION
    })
    const desired: DesiredManifest[] = []
    const keep = new Set<string>()
    const managed = new Set(Object.keys(this.state.files))
    const onDiskBefore = await this.dir.read([...managed, ...roles.flatMap((r) => this.templateNames(r))])
    for (const role of roles) {
      const templates = shape.templatesOf(role).length > 0 ? shape.templatesOf(role) : (this.defaults.get(role) ?? [])
      for (const entry of templates) {
        const previous = this.state.files[entry.name]
        const current = onDiskBefore.get(entry.name)
        // etcd: rendered once per (role gained, template); see the module comment.
        if (role === 'etcd' && previous?.role === 'etcd' && previous.templateCid === entry.cid && current !== undefined && this.state.roles.includes('etcd')) {
          desired.push({ name: entry.name, role, templateCid: entry.cid, bytes: current })
          continue
        }
        try {
          const bytes = await this.templateBytes(entry)
          const text = renderTemplate(new TextDecoder().decode(bytes), view, `${entry.name} (${entry.cid})`)
          desired.push({ name: entry.name, role, templateCid: entry.cid, bytes: new TextEncoder().encode(manifestHeader(role, entry.cid) + text) })
        } catch (err) {
          keep.add(entry.name)
          this.record({ kind: 'error', role, name: entry.name, message: `cannot render ${entry.name} for ${role}: ${(err as Error).message}` })
        }
      }
    }
    const plan = planReconcile(desired, managed, onDiskBefore, keep)
    for (const conflict of plan.conflicts) this.record({ kind: 'conflict', name: conflict.name, message: conflict.why })
    const previousRoles = this.state.roles as Role[]
    // Record every name before writing it, so the state always names a superset of what we wrote.
    if (plan.writes.length > 0) {
      for (const m of plan.writes) this.state.files[m.name] = { role: m.role, templateCid: m.templateCid }
      await this.dir.writeState(this.state)
    }
    for (const m of plan.writes) {
      await this.dir.write(m.name, m.bytes)
      this.noteManifest(m)
      this.record({ kind: 'write', role: m.role, name: m.name, message: `wrote ${m.name} for ${m.role} from template ${m.templateCid}` })
    }
    for (const m of plan.unchanged) this.noteManifest(m)
    for (const name of plan.removals) {
      await this.dir.remove(name)
      this.record({ kind: 'remove', role: this.state.files[name]?.role, name, message: `removed ${name}: this node no longer holds ${this.state.files[name]?.role ?? 'its role'}` })
      delete this.state.files[name]
      this.records.delete(name)
    }
    for (const m of [...plan.writes, ...plan.unchanged]) this.state.files[m.name] = { role: m.role, templateCid: m.templateCid }
    const transitions = roleTransitions(previousRoles, roles)
    this.state.roles = roles
    if (plan.writes.length > 0 || plan.removals.length > 0 || transitions.gained.length + transitions.lost.length > 0) await this.dir.writeState(this.state)
    const now = Date.now()
    for (const role of transitions.lost) this.runHook('onDemote', role, shapeCid, appliedIndex)
    for (const role of transitions.gained) this.runHook('onPromote', role, shapeCid, appliedIndex)
    this.lastReconcile = { atMs: now, appliedIndex, shapeCid, missingAddresses }
    this.reconciles++
  }

  /** Keeps the record shown by `revoada manifests` (the write time is kept while the bytes stay the same). */
  private noteManifest (m: DesiredManifest): void {
    const manifestCid = cidOfBytes(m.bytes).toString()
    const known = this.records.get(m.name)
    if (known?.manifestCid === manifestCid && known.templateCid === m.templateCid) return
    this.records.set(m.name, { name: m.name, role: m.role, templateCid: m.templateCid, manifestCid, writtenAtMs: Date.now() })
  }

  private templateNames (role: ControlPlaneRole): string[] {
    const shape = this.consensus.shapeMachine.shape
    const templates = shape.templatesOf(role).length > 0 ? shape.templatesOf(role) : (this.defaults.get(role) ?? [])
    return templates.map((t) => t.name)
  }

  /** The template's bytes: built in, cached, or fetched from the content layer and checked against the CID. */
  private async templateBytes (entry: { name: string, cid: string }): Promise<Uint8Array> {
    for (const templates of this.defaults.values()) {
      const builtIn = templates.find((t: Template) => t.cid === entry.cid)
      if (builtIn !== undefined) return builtIn.bytes
    }
    const cached = this.fetched.get(entry.cid)
    if (cached !== undefined) return cached
    const content = this.content()
    if (content === undefined) throw new ContentUnavailableError()
    let bytes: Uint8Array
    try {
      bytes = await content.get(entry.cid, { signal: AbortSignal.timeout(TEMPLATE_FETCH_TIMEOUT_MS) })
    } catch (err) {
      throw new TemplateUnavailableError(entry.cid, (err as Error).message)
    }
    const cid = parseCid(entry.cid)
    // The content layer verifies every chunk; a raw CID is checked here once more, end to end.
    if (cid === null || (cid.code === 0x55 && !verifyCid(cid, bytes))) throw new TemplateCidMismatchError(entry.cid)
    this.fetched.set(entry.cid, bytes)
    return bytes
  }

  /**
   * The content layer, when this node runs it. Templates are pinned where they are added and where they are
   * fetched: content the committed catalog names is never garbage-collected (DESIGN.md §7).
   */
  content (): TemplateContent | undefined {
    if (this.init.content !== undefined) return this.init.content
    const service = this.ctx.service<ContentService>('content')
    if (service === undefined) return undefined
    return {
      add: async (bytes) => (await service.add(bytes, { pin: true })).cidObject.toString(),
      get: async (text) => {
        const cid = parseCid(text)
        if (cid === null) throw new TemplateCidMismatchError(text)
        await service.fetch(cid, { pin: true })
        return await service.get(cid)
      }
    }
  }

  private addressOf (nodeId: string): string | undefined {
    if (nodeId === this.ctx.nodeId && this.ctx.config.materializer?.advertiseAddress !== undefined) return this.ctx.config.materializer.advertiseAddress
    const member = this.membership?.view().members.find((m) => m.nodeId === nodeId)
    if (member !== undefined) return pickAddress(member.state.addresses)
    if (nodeId === this.ctx.nodeId) return pickAddress(this.ctx.net.getMultiaddrs().map((a) => a.toString()))
    return undefined
  }

  private kubernetesVersion (): string {
    return this.ctx.config.materializer?.kubernetesVersion ?? this.ctx.config.membership?.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION
  }

  private runHook (hook: HookName, role: ControlPlaneRole, shapeCid: string, index: number): void {
    const executable = this.ctx.config.hooks?.[hook]
    if (executable === undefined || this.hooks === undefined) return
    this.hooks.enqueue({ hook, executable, role, nodeId: this.ctx.nodeId, shapeCid, index })
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
      lastReconcile: this.lastReconcile ?? null,
      events: [...this.events]
    }
  }

  /** The effective catalog: the committed templates per role, or the build's defaults. */
  catalog (): Array<{ role: ControlPlaneRole, source: 'committed' | 'default', templates: Array<{ name: string, cid: string }> }> {
    const shape = this.consensus.shapeMachine.shape
    return CONTROL_PLANE_ROLES.map((role) => {
      const committed = shape.templatesOf(role)
      if (committed.length > 0) return { role, source: 'committed' as const, templates: committed }
      return { role, source: 'default' as const, templates: (this.defaults.get(role) ?? []).map((t) => ({ name: t.name, cid: t.cid })) }
    })
  }

  status (): Record<string, unknown> {
    return { manifestDir: this.dir.dir, files: this.records.size, reconciles: this.reconciles }
  }

  routes (app: FastifyInstance): void {
    registerMaterializerRoutes(app, this)
  }

  get consensusService (): ConsensusService {
    return this.consensus
  }
}

function manifestHeader (role: string, templateCid: string): string {
  return `# Written by revoada for the ${role} role from template ${templateCid}.\n# Do not edit: revoada rewrites or removes this file as the role moves.\n`
}
