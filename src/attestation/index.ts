/**
 * @module attestation
 * Layer D (DESIGN.md §8, docs/CHAIN.md): a witnessed chain of every committed shape transition, derived
 * from the committed log so that it is byte-identical on every node, sealed by a voter majority, and
 * verifiable offline from an export and the cluster's genesis.
 *
 * @example
 * const attestation = new AttestationService()
 * const consensus = new ConsensusService({ ..., wrapMachine: (shape, ctx) => attestation.attach(shape, ctx) })
 * // services: [membership, consensus, attestation]
 */
export { AttestationService, witnessTopic } from './attestation-service.js'
export type { AttestationServiceInit } from './attestation-service.js'
export { AttestedMachine } from './attested-machine.js'
export { ChainStore } from './store.js'
export { verifyWithCodec, signWitness } from './signatures.js'
export type { ChainSummary } from './reader.js'
export * from './errors.js'
