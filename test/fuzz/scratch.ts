/**
 * @module test/fuzz/scratch
 * Scratch directories for targets that need files: on tmpfs (/dev/shm) when the machine has it, so
 * 20,000 directory recoveries cost memory copies, not disk writes; otherwise the OS temp dir.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function scratchDir (label: string): string {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()
  return fs.mkdtempSync(path.join(base, `revoada-fuzz-${label}-`))
}
