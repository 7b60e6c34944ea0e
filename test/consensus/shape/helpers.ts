/**
 * Shared set-up of the shape tests: real ed25519 signers, a shape machine restored to a given
 * membership, and signing of arbitrary envelope-shaped values (malformed ones the proposer would
 * never build, which is what decoding tests need).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSigner, encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { MeshShape, encodeSignedProposal, envelopeBytesAndCid, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command, Envelope } from '../../../src/consensus/shape/core/index.js'

export async function newSigner (): Promise<Signer> {
  const key = await generateKeyPair('Ed25519')
  return createSigner(key, peerIdFromPrivateKey(key).toString())
}

/** A machine of `clusterId` holding exactly `members` (sorted here, as the shape requires) under `target`. */
export function restoredMachine (
  clusterId: string,
  members: Array<[string, string[]]>,
  target: { apiServers: number, etcd: number, schedulers: number, controllerManagers: number, minWorkers: number }
): ShapeMachine {
  const m = new ShapeMachine(clusterId)
  const sorted = [...members].sort((x, y) => x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)
  m.restore(encodeCanonical(MeshShape.fromData({ members: sorted, target }).toData()))
  return m
}

/** Signs any envelope-shaped value as `by` would sign a proposal of `clusterId`. */
export function signEnvelopeValue (value: unknown, by: Signer, clusterId: string): Uint8Array {
  const { bytes, cid } = envelopeBytesAndCid(value as Envelope)
  return encodeSignedProposal(bytes, by.sign('proposal', clusterId, cid))
}

/** The shape `commands` build from an empty one, each of which must apply (test set-up). */
export function buildShape (commands: Command[]): MeshShape {
  let shape = MeshShape.empty()
  for (const command of commands) {
    const next = transition(shape, command)
    if (next.kind !== 'applied') throw new Error(`setup ${command.kind}: ${next.message}`)
    shape = next.shape
  }
  return shape
}
