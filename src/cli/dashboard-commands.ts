/**
 * @module cli/dashboard-commands
 * `revoada dashboard`: asks the running node for a one-time login link and prints it (or opens it). The
 * link trades its code for a session cookie and redirects to `/dashboard`, so the admin token never sits
 * in a page URL; the code works once and expires after a few minutes.
 */
import { spawn } from 'node:child_process'
import type { Command } from 'commander'
import { NodeNotRunningError, apiRequest, checkAnswer, isLoopbackHost, readApiFile } from '../api/index.js'
import { CliInputError } from './validate.js'

const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'
/** The path of a node's login link: `/login?code=` and a base64url code (api/server.ts, LOGIN_CODE_BYTES). */
const LOGIN_PATH = /^\/login\?code=[A-Za-z0-9_-]{1,128}$/

/**
 * The link `--open` hands the browser opener, built from checked parts: the http scheme, a loopback host and a
 * numeric port, from `base` (api.json's URL or --base-url) with nothing else in it, then `loginPath`. Passed on
 * as given, it was whatever the API answered: xdg-open acts on any scheme (`file:`) and any host.
 * @throws CliInputError (exit 3) when `base` is anything else
 */
export function openableLink (base: string, loginPath: string): string {
  let url: URL | undefined
  try {
    url = new URL(base)
  } catch {
    // refused below
  }
  const bare = url?.hostname.replace(/^\[(.*)\]$/, '$1') ?? ''
  const port = url?.port === '' ? 80 : Number(url?.port)
  const plain = url !== undefined && url.username === '' && url.password === '' && url.pathname === '/' && url.search === '' && url.hash === ''
  if (url === undefined || url.protocol !== 'http:' || !isLoopbackHost(bare) || !plain || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliInputError(`--open: refusing to open a link to ${base}: only http://<loopback host>:<port> is opened; run without --open and open the link yourself`)
  }
  return `http://${url.hostname}:${port}${loginPath}`
}

/** `--base-url`: an http(s) URL, the only kind a browser opens the dashboard at. @throws CliInputError (exit 3) */
function checkBaseUrl (value: string): void {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new CliInputError(`--base-url: "${value}" is no URL (e.g. http://127.0.0.1:8080)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliInputError(`--base-url: expected an http:// or https:// URL, got "${value}"`)
}

/** `loginPath` at `base`, for printing. @throws CliInputError (exit 3) when `base` is no URL */
function linkAt (base: string, loginPath: string): string {
  try {
    return new URL(loginPath, base).toString()
  } catch {
    throw new CliInputError(`--base-url: "${base}" is no URL (e.g. http://127.0.0.1:8080)`)
  }
}

async function runDashboard (opts: { dataDir?: string, open?: boolean, baseUrl?: string }): Promise<void> {
  const dataDir = opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
  // Checked before the request: a bad one was refused only after a code was minted, and a javascript: or ftp:
  // one was printed as the link.
  if (opts.baseUrl !== undefined) checkBaseUrl(opts.baseUrl)
  const link = checkAnswer(dataDir, '/v1/login-links', await apiRequest(dataDir, 'POST', '/v1/login-links'), { url: 'string', path: 'string' }) as { url: string, path: string }
  if (!LOGIN_PATH.test(link.path)) throw new NodeNotRunningError(dataDir, 'the API in api.json answered /v1/login-links without a login path: not a revoada node')
  // Behind a published port (a container) the browser reaches the API at another address than it binds.
  const base = opts.baseUrl ?? (await readApiFile(dataDir)).url
  const opened = opts.open === true ? openableLink(base, link.path) : undefined
  const url = opened ?? linkAt(base, link.path)
  process.stdout.write(`${url}\n`)
  process.stderr.write('one-time login link: it works once, within 5 minutes, and opens a read-only dashboard session\n')
  if (opened !== undefined) {
    const opener = process.platform === 'darwin' ? 'open' : 'xdg-open'
    const child = spawn(opener, [opened], { stdio: 'ignore', detached: true })
    child.on('error', () => { process.stderr.write(`could not run ${opener}: open the link above yourself\n`) })
    child.unref()
  }
}

/** Registers `revoada dashboard`. */
export function registerDashboardCommands (program: Command): void {
  program.command('dashboard')
    .description('print a one-time login link to the running node\'s live dashboard')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--open', 'also open it in the default browser (an http link to a loopback host only)')
    .option('--base-url <url>', 'where the browser reaches this node\'s API (e.g. a published port: http://127.0.0.1:8080)')
    .action(runDashboard)
}
