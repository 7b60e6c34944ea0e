/**
 * The live dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core; nothing
 * downloads a browser). Five testbed node processes reach ha-three; the page, opened through a one-time
 * login link, shows all five alive. A control-plane member is SIGKILLed: the page must show it suspect,
 * then dead, then its roles moving to the others — each step arriving over `/v1/events` without a reload.
 * Saves a screenshot to test-results/dashboard-after-kill.png. Uses the build in dist/ (npm test builds).
 */
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import type { BrowserContext, Page } from 'playwright-core'
import { apiGet, apiRequest } from '../../src/api/index.js'
import { tempDir, waitFor } from '../node/helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const TESTBED = path.join(ROOT, 'dist/src/testbed/index.js')
const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = path.join(ROOT, 'test-results/dashboard-after-kill.png')
/** Chromium must not reach out anywhere: no updates, sync, field trials or QUIC probes. */
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** Faster failure detection and policy than the defaults, so the test spends seconds, not minutes. */
const FAST_ENV = {
  REVOADA_LOG_LEVEL: 'info',
  REVOADA_MEMBERSHIP__HEARTBEAT_INTERVAL_MS: '200',
  REVOADA_POLICY__STABILIZATION_MS: '500',
  REVOADA_POLICY__PER_NODE_INTERVAL_MS: '0',
  REVOADA_POLICY__AUDIT_INTERVAL_MS: '1000'
}

interface Row { nodeId: string, health: string, roles: string[] }
type TestbedModule = typeof import('../../src/testbed/index.js')

let root = ''
let context: BrowserContext | undefined
let testbed: TestbedModule | undefined

afterEach(async () => {
  await context?.close()
  context = undefined
  if (testbed !== undefined && root !== '') await testbed.testbedDown(path.join(root, 'tb')).catch(() => {})
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
  root = ''
}, 60_000)

// NB: page scripts are strings: the project compiles without the DOM library.
const ROWS_SCRIPT = `[...document.querySelectorAll('#members tr')].map((tr) => ({
  nodeId: tr.getAttribute('data-node-id') || '', health: tr.getAttribute('data-health') || '',
  roles: (tr.getAttribute('data-roles') || '').split(',').filter((r) => r !== '')
}))`

async function rows (page: Page): Promise<Row[]> {
  return await page.evaluate(ROWS_SCRIPT) as Row[]
}

/** Records every health the page shows for one member, in order, as state events re-render the table. */
const recordHealthScript = (id: string): string => `(() => {
  const seen = []
  window.healthSeen = seen
  const note = () => {
    const row = document.querySelector('#members tr[data-node-id="${id}"]')
    const health = row === null ? null : row.getAttribute('data-health')
    if (health !== null && seen[seen.length - 1] !== health) seen.push(health)
  }
  note()
  new MutationObserver(note).observe(document.getElementById('members'), { childList: true, subtree: true })
})()`

const etcdHolders = (all: Row[]): string[] => all.filter((r) => r.roles.includes('etcd')).map((r) => r.nodeId)

describe('dashboard in headless Chromium', () => {
  it('should show a killed member suspect, then dead, then its roles moving, live over SSE', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/ensure-apt.sh /usr/bin/chromium:chromium (.ci/run does)`)
    if (!existsSync(TESTBED)) throw new Error(`${TESTBED} missing: npm run build first (npm test does)`)
    testbed = await import(TESTBED) as TestbedModule
    root = await tempDir('revoada-dashboard-')
    const state = await testbed.testbedUp({ dir: path.join(root, 'tb'), count: 5, target: 'ha-three', env: FAST_ENV })
    const first = state.nodes[0]!
    const link = await apiRequest(first.dataDir, 'POST', '/v1/login-links') as { url: string }

    context = await chromium.launchPersistentContext(path.join(root, 'chromium-profile'), {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1400, height: 900 }
    })
    const page = context.pages()[0] ?? await context.newPage()
    await page.goto(link.url)
    // The one-time code is spent; the page URL carries no secret from here on.
    expect(new URL(page.url()).pathname).toBe('/dashboard')
    expect(page.url()).not.toContain('code=')
    await page.waitForSelector('body[data-connected="true"]', { timeout: 30_000 })
    await waitFor(async () => {
      const all = await rows(page)
      return all.length === 5 && all.every((r) => r.health === 'alive') && etcdHolders(all).length === 3
    }, 90_000, 'five alive members and three etcd holders on the page')

    // The victim holds control-plane roles and is neither the page's node nor the Raft leader.
    const leader = (await apiGet(first.dataDir, '/v1/status') as { leader: string }).leader
    const victimId = etcdHolders(await rows(page)).find((id) => id !== first.nodeId && id !== leader)!
    expect(victimId).toBeDefined()
    const victim = state.nodes.find((n) => n.nodeId === victimId)!
    await page.evaluate(recordHealthScript(victimId))
    await testbed.testbedKill(state.dir, victim.index)

    const healthSeen = async (): Promise<string[]> => await page.evaluate('window.healthSeen') as string[]
    await waitFor(async () => (await healthSeen()).includes('dead'), 60_000, 'the page to show the victim dead')
    const seen = await healthSeen()
    expect(seen[0]).toBe('alive')
    expect(seen.indexOf('suspect')).toBeGreaterThan(0)
    expect(seen.indexOf('suspect')).toBeLessThan(seen.indexOf('dead'))

    await waitFor(async () => {
      const all = await rows(page)
      const holders = etcdHolders(all)
      return holders.length === 3 && !holders.includes(victimId)
    }, 90_000, 'the victim\'s roles to move on the page')
    const after = await rows(page)
    // Demoted: no control-plane role left (a quarantined member holds none at all).
    expect(after.find((r) => r.nodeId === victimId)?.roles.every((r) => r === 'worker')).toBe(true)
    const timeline = await page.evaluate(`[...document.querySelectorAll('#timeline li')].map((li) => li.textContent)`) as string[]
    expect(timeline.some((t) => t.includes('lost') && t.includes('etcd'))).toBe(true)
    await fs.mkdir(path.dirname(SCREENSHOT), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
  }, 300_000)
})
