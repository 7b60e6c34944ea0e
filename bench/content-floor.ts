/**
 * @module bench/content-floor
 * `npm run bench:content-floor`: the CPU that one content transfer cannot avoid on this machine, and what it
 * implies for issue 13's two targets taken together (one peer ≥ 0.5× a raw TCP copy; 8 peers at once ≤ 2×
 * one transfer).
 *
 * Every byte a fetcher receives costs, at the least: one pass of a native stream cipher on each side (the
 * cluster's pnet layer), one ChaCha20-Poly1305 seal and one open in 64 KiB messages (noise), one BLAKE3
 * pass (verification), and what the raw TCP copy of bench:content costs (a page-cache read at the sender,
 * both ends' socket syscalls, a page-cache write at the receiver). Each is measured here with native code only (node:crypto, the BLAKE3 binding,
 * the kernel) — no JavaScript framing, no libp2p — so their sum is a lower bound on any implementation's
 * CPU per byte. OpenSSL's ChaCha20 stands in for XSalsa20 (same 20-round ARX design and cost class).
 *
 * In a fan-out of F fetchers every delivered byte is sent once and received once somewhere, so the fan-out
 * needs at least F × size × floor CPU-seconds, i.e. at least that ÷ cores of wall time; a single transfer
 * that meets the first target takes at most size ÷ (0.5 × raw TCP rate). The printed ratio is the smallest
 * fan-out/single ratio these two facts allow on this machine.
 *
 * Env: BENCH_FLOOR_MIB (default 512), BENCH_CONTENT_FANOUT (default 8).
 */
import '../src/polyfill.js'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import { pipeline } from 'node:stream/promises'
import os from 'node:os'
import path from 'node:path'
import { blake3 } from '../src/codec/index.js'
import { machineDescription, printTable } from './lib/stats.js'

const MIB = 1024 * 1024
const GIB = 1024 * MIB
const totalBytes = Number(process.env.BENCH_FLOOR_MIB ?? 512) * MIB
const fanout = Number(process.env.BENCH_CONTENT_FANOUT ?? 8)
/** Noise's largest transport message is 65,535 bytes including its 16-byte tag. */
const NOISE_PLAINTEXT_BYTES = 65_535 - 16
const CHUNK_BYTES = MIB

const cpuSeconds = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

interface Pass { name: string, cpuPerGiB: number, mbPerSecond: number }

function timed (name: string, run: () => void): Pass {
  const cpu0 = cpuSeconds()
  const t0 = performance.now()
  run()
  const seconds = (performance.now() - t0) / 1000
  return { name, cpuPerGiB: (cpuSeconds() - cpu0) * GIB / totalBytes, mbPerSecond: totalBytes / 1e6 / seconds }
}

const key = randomBytes(32)
const chunk = randomBytes(CHUNK_BYTES)
const message = chunk.subarray(0, NOISE_PLAINTEXT_BYTES)

function streamCipherPass (): Pass {
  const out = Buffer.alloc(CHUNK_BYTES)
  return timed('stream cipher XOR, native ChaCha20 (pnet, per side)', () => {
    const cipher = createCipheriv('chacha20', key, randomBytes(16))
    for (let done = 0; done < totalBytes; done += CHUNK_BYTES) out.set(cipher.update(chunk))
  })
}

function sealPass (): { seal: Pass, open: Pass } {
  const nonce = Buffer.alloc(12)
  const seal = timed('ChaCha20-Poly1305 seal, 64 KiB messages (noise, sender)', () => {
    for (let done = 0; done < totalBytes; done += message.length) {
      const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      cipher.update(message); cipher.final(); cipher.getAuthTag()
    }
  })
  const sealer = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  const sealed = sealer.update(message); sealer.final()
  const tag = sealer.getAuthTag()
  const open = timed('ChaCha20-Poly1305 open, 64 KiB messages (noise, receiver)', () => {
    for (let done = 0; done < totalBytes; done += message.length) {
      const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      decipher.setAuthTag(tag); decipher.update(sealed); decipher.final()
    }
  })
  return { seal, open }
}

/**
 * The reference copy of bench:content, measured the same way: a file read into a loopback socket and written
 * to another file, both ends in this process (page-cache read, two sides' socket syscalls, page-cache write).
 */
async function rawTcpCopyPass (dir: string): Promise<Pass> {
  const source = path.join(dir, 'source')
  const fd = fs.openSync(source, 'w')
  for (let done = 0; done < totalBytes; done += CHUNK_BYTES) fs.writeSync(fd, chunk)
  fs.closeSync(fd)
  const cpu0 = cpuSeconds()
  const t0 = performance.now()
  const server = net.createServer((socket) => { void pipeline(fs.createReadStream(source), socket).catch(() => {}) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await pipeline(net.connect(port, '127.0.0.1'), fs.createWriteStream(path.join(dir, 'target')))
  server.close()
  const seconds = (performance.now() - t0) / 1000
  return {
    name: 'raw TCP copy: file → loopback socket → file (as bench:content)',
    cpuPerGiB: (cpuSeconds() - cpu0) * GIB / totalBytes,
    mbPerSecond: totalBytes / 1e6 / seconds
  }
}

async function main (): Promise<void> {
  console.log(`# bench:content-floor — ${await machineDescription()}`)
  console.log(`${totalBytes / MIB} MiB per pass, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-floor-'))
  try {
    const cipher = streamCipherPass()
    const { seal, open } = sealPass()
    const hash = timed('BLAKE3, native binding, 1 MiB (receiver verifies)', () => {
      for (let done = 0; done < totalBytes; done += CHUNK_BYTES) blake3(chunk)
    })
    const tcp = await rawTcpCopyPass(dir)
    const passes: Array<[Pass, number]> = [[cipher, 2], [seal, 1], [open, 1], [hash, 1], [tcp, 1]]
    const floor = passes.reduce((sum, [pass, times]) => sum + pass.cpuPerGiB * times, 0)
    printTable(['pass', 'times per byte', 'CPU s per GiB', 'MB/s (wall)'],
      passes.map(([pass, times]) => [pass.name, times, pass.cpuPerGiB.toFixed(2), pass.mbPerSecond.toFixed(0)]))

    const cores = os.availableParallelism()
    const tcpGiBPerSecond = tcp.mbPerSecond * 1e6 / GIB
    // Fan-out wall time ≥ F × size × floor / cores; single time ≤ size / (0.5 × raw TCP rate).
    const smallestRatio = fanout * floor * 0.5 * tcpGiBPerSecond / cores
    const floorForBoth = 2 * cores / (fanout * 0.5 * tcpGiBPerSecond)
    console.log(`\nfloor per GiB delivered (sender + receiver): ${floor.toFixed(2)} CPU s`)
    console.log(`cores: ${cores}; raw TCP copy: ${tcp.mbPerSecond.toFixed(0)} MB/s`)
    console.log(`both targets together need ≤ ${floorForBoth.toFixed(2)} CPU s per GiB (fan-out ${fanout} ≤ 2× a single transfer at 0.5× raw TCP)`)
    console.log(`smallest fan-out/single ratio this machine allows with a single transfer at 0.5× raw TCP: ${smallestRatio.toFixed(2)}×`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
