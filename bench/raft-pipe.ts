/**
 * @module bench/raft-pipe
 * `npm run bench:raft-pipe`: what one Raft message costs in the transport, from `RaftTransport.send` to the
 * peer's handler, through the stack every member runs (tcp, our pnet, noise, yamux, the Raft framing), with
 * two libp2p nodes in this one process on 127.0.0.1 — so the CPU figure is the sender's and the receiver's
 * work together, and does not depend on the machine's load the way `bench:consensus`'s figures do.
 * - ping-pong: node A sends an App with one entry (ENTRY_BYTES, a one-command batch), B answers each with an
 *   AppResp, A sends the next on the answer: one client's serial path, one message per turn;
 * - burst: A sends BURST Apps in one turn, B answers once it has all of them: what a leader with several
 *   messages for one peer in one turn pays per message.
 * Prints messages/s, CPU µs per message (user + system of the process, median of ROUNDS rounds) and socket
 * writes per message (calls of `net.Socket#write`, counted in this process).
 */
import '../src/polyfill.js'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { RaftTransport } from '../src/consensus/transport/raft-transport.js'
import { EntryType, MessageType } from '../src/consensus/core/types.js'
import type { Message } from '../src/consensus/core/types.js'
import { clusterKeyProtector } from '../src/net/pnet.js'
import { transportNoiseCrypto } from '../src/net/noise-crypto.js'
import { fastNoiseFrames } from '../src/net/noise-frames.js'
import { installYamuxWindowThreshold } from '../src/net/yamux-window.js'
import { machineDescription, median, printTable } from './lib/stats.js'

const ROUNDS = Number(process.env.PIPE_ROUNDS ?? 5)
const MESSAGES = Number(process.env.PIPE_MESSAGES ?? 4000)
const ENTRY_BYTES = Number(process.env.PIPE_ENTRY_BYTES ?? 700)
const BURST = 8
const quiet = { info: () => {}, warn: () => {}, debug: () => {} }

let socketWrites = 0
const socketWrite = net.Socket.prototype.write
net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]): boolean {
  socketWrites++
  return (socketWrite as (...a: unknown[]) => boolean).apply(this, args)
} as typeof net.Socket.prototype.write

async function node (key: Uint8Array): Promise<Libp2p> {
  installYamuxWindowThreshold()
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionProtector: clusterKeyProtector(key, 5000),
    connectionEncrypters: [fastNoiseFrames(noise({ crypto: transportNoiseCrypto }))],
    streamMuxers: [yamux()]
  })
}

function app (from: string, to: string, index: number, data: Uint8Array): Message {
  return {
    type: MessageType.App, from, to, term: 3, index, logTerm: 3, commit: index, reject: false, rejectHint: 0,
    entries: [{ index: index + 1, term: 3, type: EntryType.Normal, data, proposalId: { clientId: 'bench-client', seq: index } }]
  }
}

function appResp (from: string, to: string, index: number): Message {
  return { type: MessageType.AppResp, from, to, term: 3, index, logTerm: 0, commit: 0, reject: false, rejectHint: 0, entries: [] }
}

interface Figures { messagesPerSecond: number, cpuMicrosPerMessage: number, writesPerMessage: number }

async function measure (run: (n: number) => Promise<number>): Promise<Figures> {
  await run(Math.min(1000, MESSAGES))
  const rounds: Figures[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const cpu = process.cpuUsage()
    const writes = socketWrites
    const start = process.hrtime.bigint()
    const messages = await run(MESSAGES)
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const used = process.cpuUsage(cpu)
    rounds.push({ messagesPerSecond: messages / seconds, cpuMicrosPerMessage: (used.user + used.system) / messages, writesPerMessage: (socketWrites - writes) / messages })
  }
  return {
    messagesPerSecond: median(rounds.map((f) => f.messagesPerSecond)),
    cpuMicrosPerMessage: median(rounds.map((f) => f.cpuMicrosPerMessage)),
    writesPerMessage: median(rounds.map((f) => f.writesPerMessage))
  }
}

async function main (): Promise<void> {
  const key = randomBytes(32)
  const a = await node(key)
  const b = await node(key)
  await a.dial(b.getMultiaddrs()[0]!)
  const ta = new RaftTransport({ libp2p: a, isMember: () => true, log: quiet })
  const tb = new RaftTransport({ libp2p: b, isMember: () => true, log: quiet })
  await ta.start(); await tb.start()
  const aId = a.peerId.toString()
  const bId = b.peerId.toString()
  const data = randomBytes(ENTRY_BYTES)

  // ping-pong: one App, one AppResp, the next App on the answer.
  let onAnswer: (m: Message) => void = () => {}
  ta.setHandler((m) => { onAnswer(m) })
  let burstLeft = 0
  tb.setHandler((m) => {
    if (burstLeft === 0) { tb.send(appResp(bId, aId, m.index)); return }
    if (--burstLeft === 0) tb.send(appResp(bId, aId, m.index))
  })
  const pingPong = await measure(async (n) => {
    const roundTrips = n / 2
    await new Promise<void>((resolve) => {
      let sent = 0
      onAnswer = () => {
        if (++sent >= roundTrips) { resolve(); return }
        ta.send(app(aId, bId, sent, data))
      }
      ta.send(app(aId, bId, 0, data))
    })
    return roundTrips * 2
  })

  // burst: BURST Apps in one turn, one answer once all arrived.
  const burst = await measure(async (n) => {
    const bursts = Math.max(1, Math.round(n / (BURST + 1)))
    await new Promise<void>((resolve) => {
      let done = 0
      const sendBurst = (): void => {
        burstLeft = BURST
        for (let i = 0; i < BURST; i++) ta.send(app(aId, bId, done * BURST + i, data))
      }
      onAnswer = () => {
        if (++done >= bursts) { resolve(); return }
        sendBurst()
      }
      sendBurst()
    })
    return bursts * (BURST + 1)
  })

  await ta.stop(); await tb.stop()
  await a.stop(); await b.stop()
  console.log(await machineDescription())
  console.log(`command: npm run bench:raft-pipe (PIPE_MESSAGES=${MESSAGES}, PIPE_ENTRY_BYTES=${ENTRY_BYTES}, PIPE_ROUNDS=${ROUNDS})`)
  printTable(['pattern', 'messages/s', 'CPU µs/message (both ends)', 'socket writes/message'], [
    [`ping-pong: App (${ENTRY_BYTES} B entry) ⇄ AppResp`, Math.round(pingPong.messagesPerSecond), pingPong.cpuMicrosPerMessage.toFixed(1), pingPong.writesPerMessage.toFixed(2)],
    [`burst: ${BURST} Apps in one turn, 1 AppResp`, Math.round(burst.messagesPerSecond), burst.cpuMicrosPerMessage.toFixed(1), burst.writesPerMessage.toFixed(2)]
  ])
}

await main()
