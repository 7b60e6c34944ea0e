/**
 * @module cli/dashboard-commands
 * `revoada dashboard`: asks the running node for a one-time login link and prints it (or opens it). The
 * link trades its code for a session cookie and redirects to `/dashboard`, so the admin token never sits
 * in a page URL; the code works once and expires after a few minutes.
 */
import { spawn } from 'node:child_process'
import type { Command } from 'commander'
import { apiRequest, checkAnswer } from '../api/index.js'

const DATA_DIR_HELP = 'data directory (default: $REVOADA_DATA_DIR or ./.revoada)'

async function runDashboard (opts: { dataDir?: string, open?: boolean, baseUrl?: string }): Promise<void> {
  const dataDir = opts.dataDir ?? process.env.REVOADA_DATA_DIR ?? './.revoada'
  const link = checkAnswer(dataDir, '/v1/login-links', await apiRequest(dataDir, 'POST', '/v1/login-links'), { url: 'string', path: 'string' }) as { url: string, path: string }
  // Behind a published port (a container) the browser reaches the API at another address than it binds.
  const url = opts.baseUrl !== undefined ? new URL(link.path, opts.baseUrl).toString() : link.url
  process.stdout.write(`${url}\n`)
  process.stderr.write('one-time login link: it works once, within 5 minutes, and opens a read-only dashboard session\n')
  if (opts.open === true) {
    const opener = process.platform === 'darwin' ? 'open' : 'xdg-open'
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true })
    child.on('error', () => { process.stderr.write(`could not run ${opener}: open the link above yourself\n`) })
    child.unref()
  }
}

/** Registers `revoada dashboard`. */
export function registerDashboardCommands (program: Command): void {
  program.command('dashboard')
    .description('print a one-time login link to the running node\'s live dashboard')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--open', 'also open it in the default browser')
    .option('--base-url <url>', 'where the browser reaches this node\'s API (e.g. a published port: http://127.0.0.1:8080)')
    .action(runDashboard)
}
