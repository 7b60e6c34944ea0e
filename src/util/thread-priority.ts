/**
 * @module util/thread-priority
 * The event-loop thread's scheduling priority (nice value), for consensus/voter-priority.ts, and the rule
 * that a process this node starts runs at the priority the node itself started with: a child inherits the
 * nice value of the thread that forks it, and an operator's hook must not run ahead of the voter that
 * started it.
 */
import os from 'node:os'

/** The calling thread's scheduling priority (nice value); `set` throws when the OS refuses. */
export interface ThreadPriority {
  get: () => number
  set: (nice: number) => void
}

/** The main thread's nice value before this process first changed it (undefined: never changed). */
let startNice: number | undefined

/** The main thread through node:os: pid 0 is the calling thread on Linux, the event loop here. */
export const mainThreadPriority: ThreadPriority = {
  get: () => os.getPriority(0),
  set: (nice) => {
    startNice ??= os.getPriority(0)
    os.setPriority(0, nice)
  }
}

/**
 * Puts a child this process just spawned back to the process's starting priority when the main thread was
 * raised since (lowering a priority is always allowed). Best effort: a child that already exited is skipped.
 */
export function childToStartPriority (pid: number | undefined): void {
  if (pid === undefined || startNice === undefined) return
  try {
    if (os.getPriority(pid) < startNice) os.setPriority(pid, startNice)
  } catch {
    // Exited already (ESRCH): nothing to lower.
  }
}
