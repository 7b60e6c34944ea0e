/**
 * @module bench/revoada/cpu
 * CPU time spent by child processes (Linux /proc), so the consensus bench can report server CPU per commit:
 * on a 2-core machine throughput is bounded by CPU, and this says how much each system spends per commit.
 */
import { promises as fs } from 'node:fs'

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux everywhere we run). */
const USER_HZ = 100

/** User + system CPU seconds consumed so far by `pids` (a vanished pid counts 0). */
export async function cpuSeconds (pids: readonly number[]): Promise<number> {
  let total = 0
  for (const pid of pids) {
    try {
      const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
      // Fields after the command name (which may contain spaces) start at the closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      total += (Number(fields[11]) + Number(fields[12])) / USER_HZ
    } catch { /* exited */ }
  }
  return total
}
