/**
 * @module testbed/processes
 * Which processes are a testbed's nodes. A recorded pid is no proof: once a node has exited, its pid may be
 * reused by any process, which `status` would report as the node and `kill` or `down` would signal. A node is
 * a process whose argv holds `node-main.js` followed by its data dir (`/proc/<pid>/cmdline`); on a host
 * without procfs only the pid is known.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { NODE_DIR_NAME_PATTERN } from './constants.js'

/** The file name every testbed node runs (testbed.ts spawns it, whichever build it comes from). */
const NODE_MAIN_FILE_NAME = 'node-main.js'
const hasProcfs = (): boolean => existsSync('/proc/self/cmdline')

/** The data dir `argv` runs a testbed node on, or undefined when it is no testbed node. */
function nodeDataDirOf (argv: string[]): string | undefined {
  const at = argv.findIndex((arg) => path.basename(arg) === NODE_MAIN_FILE_NAME)
  return at < 0 ? undefined : argv[at + 1]
}

/** argv of `pid`; empty for a zombie (its cmdline is empty) and for a process that is gone. */
function argvOf (pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return []
  }
}

/**
 * Whether `pid` runs. NB: a zombie is not running, though signal 0 still reaches it: a detached node
 * whose CLI has exited belongs to init, which may reap it late (Linux: state Z in /proc/<pid>/stat).
 */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true // no procfs: signal 0 is all we know
  }
}

/** Whether `pid` is the testbed node of data dir `dataDir`, running. */
export function nodeRuns (pid: number, dataDir: string): boolean {
  if (!hasProcfs()) return processAlive(pid)
  const runsOn = nodeDataDirOf(argvOf(pid))
  return runsOn !== undefined && path.resolve(runsOn) === path.resolve(dataDir) && processAlive(pid)
}

/**
 * Every running testbed node whose data dir is `<dir>/n<index>`, recorded or not: a node the CLI spawned but
 * had not recorded when it failed or was killed is found too. Empty without procfs.
 */
export function nodePidsIn (dir: string): number[] {
  if (!hasProcfs()) return []
  const testbedDir = path.resolve(dir)
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    const runsOn = nodeDataDirOf(argvOf(pid))
    if (runsOn === undefined || !NODE_DIR_NAME_PATTERN.test(path.basename(runsOn))) return false
    return path.dirname(path.resolve(runsOn)) === testbedDir && pid !== process.pid && processAlive(pid)
  })
}
