/**
 * @module bench/revoada/cleanup
 * Ctrl-C / SIGTERM safety for benchmarks that own child processes and temp dirs: every registered cleanup runs
 * (each at most once) before the process exits, so an interrupted run leaves no `revoada`/`etcd` children or
 * temp dirs behind. The normal path still calls the same cleanups in `finally` blocks.
 */

type Cleanup = () => Promise<void>

const pending = new Set<Cleanup>()
let installed = false

async function runAll (): Promise<void> {
  const all = [...pending]
  pending.clear()
  for (const fn of all) {
    try { await fn() } catch (err) { console.error(`cleanup failed: ${(err as Error).message}`) }
  }
}

function install (): void {
  if (installed) return
  installed = true
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping child processes and removing temp dirs…`)
      void runAll().finally(() => process.exit(130))
    })
  }
}

/**
 * Registers `fn` to run on SIGINT/SIGTERM; returns a function that runs it now (once) and unregisters it —
 * call that from the benchmark's `finally`.
 */
export function onInterrupt (fn: Cleanup): () => Promise<void> {
  install()
  let done = false
  const once: Cleanup = async () => {
    if (done) return
    done = true
    pending.delete(once)
    await fn()
  }
  pending.add(once)
  return once
}
