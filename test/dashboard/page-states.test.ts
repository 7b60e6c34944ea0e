/**
 * The dashboard page in a real headless Chromium (Debian's `chromium`, driven by playwright-core), against the
 * real admin API and dashboard routes over stand-in layers whose state the test sets: what a peer or the chain
 * can put in a string must reach the page as text only, the DOM must stay bounded with many members and a long
 * timeline, and the operator must never take an old state for a live one (no leader, lost quorum, no update,
 * the node stopping, its restart ending the session).
 * Method: one Chromium per file; each test its own API server on port 0 and login link; conditions are waited
 * for (`untilTrue`, selectors), never slept on.
 */
import { existsSync, promises as fs } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import type { BrowserContext, Page } from 'playwright-core'
import { ApiServer } from '../../src/api/index.js'
import { silentLogger } from '../../src/log/index.js'
import { DashboardService } from '../../src/dashboard/index.js'
import type { ServiceContext } from '../../src/node/service.js'
import { startNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { apiRequest } from '../../src/api/index.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const TOKEN = 'sekret-token'
/** Markup a peer could advertise (a label), or that could end up in a reason or a chain field. */
const HOSTILE = ['<img src=x onerror="window.pwned=1">', '<script>window.pwned=2</script>', '"><svg onload="window.pwned=3">',
  '<iframe src="javascript:window.pwned=4"></iframe>']

interface FakeMember { nodeId: string, health: string, voter: boolean, roles: string[], labels: Record<string, string> }

/** What the stand-in layers report; tests change it and call `changed()`. */
class World {
  frozenAtMs: number | undefined
  leader: string | null = 'n1'
  term = 3
  members: FakeMember[] = []
  events: Array<{ atMs: number, nodeId: string, kind: string }> = []
  decisions: unknown[] = []
  chain: Record<string, unknown> | null = { height: 1 }
  content: Record<string, unknown> = { blobs: 0 }
  clusterId = 'c1'
  shapeCid = 'bafyshape'
  target: Record<string, number> = { etcd: 3 }
  private readonly listeners = new Set<(view: unknown, events: unknown[]) => void>()

  nowMs (): number { return this.frozenAtMs ?? Date.now() }
  /** Pushes at once (as a membership event would), not at the next 500 ms tick. */
  changed (events: unknown[] = []): void { for (const listener of this.listeners) listener(undefined, events) }

  services (): Record<string, unknown> {
    const shape = {
      memberIds: () => this.members.map((m) => m.nodeId),
      has: (id: string) => this.members.some((m) => m.nodeId === id),
      rolesOf: (id: string) => new Set(this.members.find((m) => m.nodeId === id)?.roles ?? []),
      get target () { return world.target }
    }
    const world = this // eslint-disable-line @typescript-eslint/no-this-alias
    const voters = (): string[] => this.members.filter((m) => m.voter).map((m) => m.nodeId)
    return {
      consensus: {
        started: true,
        node: {
          status: () => ({ role: 'follower', leader: this.leader, term: this.term, commit: 9, confState: { voters: voters(), learners: [] } }),
          appliedIndex: () => 9,
          recentElectionLines: () => [],
          onElectionLine: () => () => {},
          onStateChange: () => () => {}
        },
        shapeMachine: { shape, shapeCid: () => this.shapeCid, onChange: () => () => {} }
      },
      membership: {
        recentEvents: () => this.events,
        subscribe: (listener: (view: unknown, events: unknown[]) => void) => { this.listeners.add(listener); return () => this.listeners.delete(listener) },
        view: () => ({ members: this.members.map((m) => ({ nodeId: m.nodeId, health: m.health, phi: 0.5, state: { generation: 1, labels: m.labels } })) })
      },
      policy: { decisions: () => this.decisions },
      chain: { name: 'chain', status: () => this.chain },
      content: { name: 'content', status: () => this.content }
    }
  }
}

let context: BrowserContext | undefined
let profile = ''
const closers: Array<() => Promise<void>> = []

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/ensure-apt.sh /usr/bin/chromium:chromium (.ci/run does)`)
  profile = await tempDir('revoada-page-states-')
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS })
}, 60_000)
afterEach(async () => { for (const close of closers.splice(0).reverse()) await close() }, 30_000)
afterAll(async () => {
  await context?.close()
  if (profile !== '') await fs.rm(profile, { recursive: true, force: true })
}, 30_000)

/** The admin API with the real dashboard routes over `world`'s layers, on `port` (0: any). */
async function serve (world: World, port = 0): Promise<{ url: string, close: () => Promise<void> }> {
  const api = new ApiServer({ host: '127.0.0.1', port, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  const dashboard = new DashboardService({ nowMs: () => world.nowMs() })
  const services = world.services()
  const ctx = {
    nodeId: 'n1', cluster: { get clusterId () { return world.clusterId } }, log: silentLogger(),
    service: (name: string) => services[name]
  } as unknown as ServiceContext
  await dashboard.start(ctx)
  dashboard.routes(api.app)
  const url = await api.listen()
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await dashboard.stop()
    await api.close()
  }
  closers.push(close)
  return { url, close }
}

/** A new tab logged in through a one-time link (by default minted at `url` with TOKEN), once the page is live. */
/**
 * Waits until `expression` is true in the page, each check one evaluation from the test. Not Playwright's
 * waitForFunction: it polls by calling eval inside the page, which the page's CSP (no 'unsafe-eval') refuses
 * whenever the first check is false (CI, 2026-12-08); DevTools' own evaluation is exempt.
 */
async function untilTrue (page: Page, expression: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => Boolean(await page.evaluate(expression)), timeoutMs, expression)
}

async function openPage (url: string, loginUrl?: string): Promise<Page> {
  const link = loginUrl ?? ((await (await fetch(`${url}/v1/login-links`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { url: string }).url
  const page = await (context as BrowserContext).newPage()
  closers.push(async () => { await page.close() })
  await page.goto(link)
  await page.waitForSelector('body[data-conn="live"]', { timeout: 20_000 })
  return page
}

const member = (nodeId: string, extra: Partial<FakeMember> = {}): FakeMember => ({ nodeId, health: 'alive', voter: false, roles: ['worker'], labels: {}, ...extra })

describe('dashboard page in headless Chromium', () => {
  it('should show markup from peers and the chain as text and run none of it', async () => {
    const world = new World()
    const [a, b, c, d] = HOSTILE as [string, string, string, string]
    world.clusterId = a
    world.shapeCid = b
    world.target = { [c]: 1 }
    world.members = [member('n1', { voter: true, labels: { zone: a, [b]: c } }), member(d, { roles: [a, 'worker'], health: c, labels: { host: d } })]
    world.leader = d
    world.events = [{ atMs: 1, nodeId: a, kind: b }]
    world.decisions = [{ atMs: 1, trigger: a, leader: true, proposals: [{ command: { kind: b, nodeId: c }, reason: d, why: a }], withheld: [{ what: b, code: c, why: d }] }]
    world.chain = { head: a, [b]: c, nested: { d } }
    world.content = { [d]: b }
    const { url } = await serve(world)
    const page = await openPage(url)
    // Rendered: the member row with the hostile id and the hostile decision are on the page as text.
    await untilTrue(page, `document.querySelectorAll('#members tr').length === 2 && document.querySelectorAll('#decisions li').length === 1`)
    const found = await page.evaluate(`({
      pwned: window.pwned,
      markup: document.querySelectorAll('img, svg, iframe, object, embed').length,
      scripts: [...document.scripts].map((s) => s.getAttribute('src')),
      text: document.body.textContent
    })`) as { pwned: unknown, markup: number, scripts: Array<string | null>, text: string }
    expect(found.pwned).toBeUndefined()
    expect(found.markup).toBe(0)
    expect(found.scripts).toEqual(['/dashboard/app.js'])
    // The stylesheet loaded under the page's CSP (an inline <style> would now be refused).
    expect(await page.evaluate(`getComputedStyle(document.querySelector('header')).backgroundColor`)).toBe('rgb(29, 35, 48)')
    // Every string shows as the characters it is (labels, timeline, decisions, chain, cluster id).
    for (const [where, text] of [['label', `zone=${a}`], ['label key', `${b}=${c}`], ['timeline', b], ['decision', `withheld ${b} [${c}]: ${d}`], ['chain', a], ['content', `${d}${b}`], ['cluster', a]]) {
      expect(found.text, where).toContain(text)
    }
  }, 60_000)

  it('should let the page\'s element builder set attributes as text only, never innerHTML or a handler', async () => {
    const { url } = await serve(new World())
    const page = await openPage(url)
    await untilTrue(page, 'typeof el === \'function\'')
    const tried = await page.evaluate(`['innerHTML', 'outerHTML', 'onclick', 'src', 'href'].map((k) => {
      try { el('div', { [k]: '<img src=x onerror="window.pwned=5">' }); return k + ': set' } catch (e) { return k + ': ' + e.message }
    })`) as string[]
    expect(tried).toEqual(['innerHTML', 'outerHTML', 'onclick', 'src', 'href'].map((k) => `${k}: el: property ${k} is not allowed`))
    const made = await page.evaluate(`(() => { const n = el('span', { class: 'c', id: 'x1', title: '<b>t</b>', 'data-k': '<i>' }, '<u>'); return [n.className, n.id, n.title, n.dataset.k, n.innerHTML] })()`) as string[]
    expect(made).toEqual(['c', 'x1', '<b>t</b>', '<i>', '&lt;u&gt;'])
    expect(await page.evaluate('window.pwned')).toBeUndefined()
  }, 60_000)

  it('should show a node\'s own labels holding markup as text, through a real node\'s membership and stream', async () => {
    const dir = await tempDir('revoada-page-labels-')
    const [a, b] = HOSTILE as [string, string]
    const node = await startNode({ config: testConfig(dir, { membership: { labels: { host: a, [b]: 'x' } } }), services: defaultServices() })
    closers.push(async () => { await node.stop(); await fs.rm(dir, { recursive: true, force: true }) })
    const link = await apiRequest(dir, 'POST', '/v1/login-links') as { url: string }
    const page = await openPage(node.apiUrl, link.url)
    await untilTrue(page, `[...document.querySelectorAll('#members tr td')].some((td) => td.textContent.includes('host='))`)
    const found = await page.evaluate(`({
      pwned: window.pwned,
      markup: document.querySelectorAll('img, svg, iframe, object, embed').length,
      labels: document.querySelector('#members tr td:last-child').textContent
    })`) as { pwned: unknown, markup: number, labels: string }
    expect(found.pwned).toBeUndefined()
    expect(found.markup).toBe(0)
    expect(found.labels).toContain(`host=${a}`)
    expect(found.labels).toContain(`${b}=x`)
  }, 60_000)

  it('should keep the DOM bounded with 80 members and a timeline far longer than the page shows', async () => {
    const world = new World()
    world.members = Array.from({ length: 80 }, (_, i) => member(`node-${String(i).padStart(3, '0')}`, { voter: i < 5, labels: { zone: `z${i % 3}` } }))
    const { url } = await serve(world)
    const page = await openPage(url)
    await untilTrue(page, `document.querySelectorAll('#members tr').length === 80`)
    const elements = async (): Promise<number> => await page.evaluate('document.getElementsByTagName("*").length') as number
    // One event at a time, each pushed: 400 pushes, the timeline past its 200 kept and 60 sent.
    const first = { seq: 0 }
    for (let i = 0; i < 400; i++) {
      world.events = []
      world.changed([{ atMs: Date.now(), nodeId: `node-${String(i % 80).padStart(3, '0')}`, kind: `event ${i}` }])
      if (i === 100) {
        await untilTrue(page, `[...document.querySelectorAll('#timeline li')].some((li) => li.textContent.includes('event 100'))`)
        first.seq = await elements()
      }
    }
    await untilTrue(page, `[...document.querySelectorAll('#timeline li')].some((li) => li.textContent.includes('event 399'))`)
    expect(await page.evaluate(`document.querySelectorAll('#timeline li').length`)).toBe(60)
    expect(await page.evaluate(`document.querySelectorAll('#members tr').length`)).toBe(80)
    // Within a few elements of the count at event 100 (a banner a loaded machine may show meanwhile adds some);
    // a timeline that kept every event would hold 300 more.
    expect(await elements()).toBeLessThanOrEqual(first.seq + 12)
  }, 60_000)

  it('should say when there is no leader and when the quorum is lost, and clear it when both are back', async () => {
    const world = new World()
    world.members = [member('n1', { voter: true }), member('n2', { voter: true }), member('n3', { voter: true }), member('n4')]
    const { url } = await serve(world)
    const page = await openPage(url)
    const summary = async (kind: string): Promise<string> => {
      await page.waitForSelector(`#summary[data-kind="${kind}"]`, { timeout: 10_000 })
      return await page.textContent('#summary') ?? ''
    }
    expect(await summary('ok')).toContain('3 of 3 voters up')
    world.leader = null
    world.changed()
    expect(await summary('no-leader')).toContain('no leader at term 3')
    world.members[1]!.health = 'dead'
    world.members[2]!.health = 'dead'
    world.changed()
    expect(await summary('quorum-lost')).toContain('quorum lost: 1 of 3 voters up as this node sees them, 2 needed')
    world.members[1]!.health = 'alive'
    world.leader = 'n2'
    world.changed()
    expect(await summary('ok')).toContain('2 of 3 voters up')
  }, 60_000)

  it('should mark the state stale when no update arrives for 5 s, and live again when one does', async () => {
    const world = new World()
    world.members = [member('n1', { voter: true })]
    const { url } = await serve(world)
    const page = await openPage(url)
    // A frozen clock makes every state the same, so the node pushes nothing more (it pushes only changes).
    world.frozenAtMs = Date.now()
    world.changed()
    await page.waitForSelector('body[data-conn="stale"]', { timeout: 15_000 })
    expect(await page.textContent('#notice')).toMatch(/^No update from the node for \d+ s.*not live\.$/)
    expect(await page.isVisible('#notice')).toBe(true)
    world.frozenAtMs = undefined
    await page.waitForSelector('body[data-conn="live"]', { timeout: 10_000 })
    expect(await page.isVisible('#notice')).toBe(false)
  }, 60_000)

  it('should say the node is stopping, then that its restart ended the session, instead of reconnecting forever', async () => {
    const world = new World()
    world.members = [member('n1', { voter: true })]
    const first = await serve(world)
    const page = await openPage(first.url)
    await page.evaluate(`(() => {
      window.connSeen = []
      const note = () => { const c = document.body.dataset.conn; if (window.connSeen[window.connSeen.length - 1] !== c) window.connSeen.push(c) }
      note()
      new MutationObserver(note).observe(document.body, { attributes: true, attributeFilter: ['data-conn'] })
    })()`)
    await first.close()
    await page.waitForSelector('body[data-conn="node-stopped"]', { timeout: 15_000 })
    expect(await page.evaluate('window.connSeen')).toEqual(['live', 'stopping', 'node-stopped'])
    expect(await page.textContent('#notice')).toMatch(/^The node stopped; reconnecting.*not live\.$/)

    // The restarted node knows no session of before: the page's reconnect meets 401, and it says what to do.
    await serve(world, Number(new URL(first.url).port))
    await page.waitForSelector('body[data-conn="session-ended"]', { timeout: 20_000 })
    expect(await page.textContent('#notice')).toContain('Run "revoada dashboard" for a new login link.')
    expect(await page.textContent('#conn')).toBe('session ended')
  }, 90_000)
})
