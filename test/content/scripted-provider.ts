/**
 * One content provider played in process, for a Fetch without libp2p nodes: each dial the fetch makes gets an
 * in-memory stream pair (`streamPair`), whose far end is served from a map of blocks, one answer per request,
 * in order. It can stop answering chunk requests after a number of them, as a provider that froze mid-stream
 * does (no answer, no reset), until `release`.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream, streamPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { ProviderScores, ProviderTable, chunkCid, decodeRequest, encodeManifest, encodeResponse } from '../../src/content/core/index.js'
import { Fetch } from '../../src/content/fetch.js'
import type { FetchDeps, FetchOptions } from '../../src/content/fetch.js'
import type { ContentStore } from '../../src/content/store.js'
import type { Announcer } from '../../src/content/announcer.js'
import type { NetNode } from '../../src/net/index.js'
import { RAW_CODE, blake3 } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'

export class ScriptedProvider {
  /** Chunk (raw block) requests read so far, answered or held. */
  chunksAsked = 0
  private left: number
  private readonly held: Promise<void>
  /** Lets every held answer go (call it when the test ends). */
  readonly release: () => void
  readonly net: NetNode

  /** `answerChunks`: how many chunk requests are answered before every later one is held. @default all */
  constructor (readonly peer: string, private readonly blocks: Map<string, Uint8Array>, answerChunks = Number.POSITIVE_INFINITY) {
    this.left = answerChunks
    let release = (): void => {}
    this.held = new Promise<void>((resolve) => { release = resolve })
    this.release = release
    this.net = {
      dialProtocol: async () => {
        const [outbound, inbound] = await streamPair()
        void this.serve(inbound)
        return outbound
      }
    } as unknown as NetNode
  }

  static async create (blocks: Map<string, Uint8Array>, answerChunks?: number): Promise<ScriptedProvider> {
    return new ScriptedProvider(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), blocks, answerChunks)
  }

  /** A fetch of `root` into `store` with this provider as its only one, announced complete. */
  fetch (root: CID, store: ContentStore, deps: Partial<FetchDeps> = {}, options: FetchOptions = {}): { fetch: Fetch, scores: ProviderScores } {
    const table = new ProviderTable()
    const scores = new ProviderScores()
    table.have(this.peer, root.toString(), 0, false, Date.now())
    const fetch = new Fetch(root, {
      net: this.net, store, table, scores, announcer: { have: async () => {}, want: async () => {} } as unknown as Announcer,
      nodeId: 'fetcher', log: silentLogger(), nowMs: () => Date.now(), startIndex: () => 0, ...deps
    }, options)
    return { fetch, scores }
  }

  private async serve (stream: Stream): Promise<void> {
    const lp = lpStream(stream)
    try {
      for (;;) {
        const request = decodeRequest((await lp.read()).subarray())
        if (request.cid.code === RAW_CODE) {
          this.chunksAsked++
          if (this.left-- <= 0) await this.held
        }
        const data = this.blocks.get(request.cid.toString())
        await lp.write(encodeResponse(data === undefined ? { type: 'none', cid: request.cid } : { type: 'block', cid: request.cid, data }))
      }
    } catch {
      // The fetcher reset or closed the stream.
    }
  }
}

/** The blocks of a file cut into `chunks` of `chunkBytes` (the last may be shorter): its manifest and every chunk, by CID text. */
export function fileBlocks (chunks: Uint8Array[], chunkBytes: number): { root: CID, manifestBytes: number, blocks: Map<string, Uint8Array> } {
  const size = chunks.reduce((n, c) => n + c.length, 0)
  const manifest = encodeManifest({ v: 1, type: 'file', size, chunkBytes, chunks: chunks.map((c) => blake3(c)) })
  const blocks = new Map<string, Uint8Array>([[manifest.cid.toString(), manifest.bytes]])
  for (const c of chunks) blocks.set(chunkCid(blake3(c)).toString(), c)
  return { root: manifest.cid, manifestBytes: manifest.bytes.length, blocks }
}
