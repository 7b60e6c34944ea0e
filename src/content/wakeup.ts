/**
 * @module content/wakeup
 * A reusable wake-up for the fetch loops: `wait(ms)` resolves on the next `notify()` or after `ms`,
 * whichever comes first. Waiting is never the synchronisation itself — every loop re-checks its state.
 */
export class Wakeup {
  private waiters: Array<() => void> = []

  async wait (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      const waiters = this.waiters
      function done (): void {
        clearTimeout(timer)
        const i = waiters.indexOf(done)
        if (i >= 0) waiters.splice(i, 1)
        resolve()
      }
      this.waiters.push(done)
    })
  }

  notify (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of [...waiters]) w()
  }
}
