/**
 * @module attestation/core
 * The attestation chain's pure core (DESIGN.md §8): the byte format, derivation of blocks from applied
 * entries, seal judgement, export files and offline verification. No IO: signature checks are injected.
 */
export * from './types.js'
export * from './constants.js'
export {
  cidBytesOf, encodeGenesis, genesisCid, encodeBlock, encodeBlockReference, decodeBlock, encodeSealCommand, decodeSealCommand, isSealCommand, witnessSubject
} from './block.js'
export {
  emptyChainState, majorityOf, cidAt, votersAt, appendProposalBlock, appendSealBlock, judgeSeal, judgeWitnesses, judgeCheckpoint,
  judgeHandover, handoverHeight, handoverVoters, departureNeedsWitness, advanceState, cloneChainState, chainStateProblem
} from './chain.js'
export type { DerivedBlock, AppliedShapeEntry } from './chain.js'
export { chainStateToData, chainStateFromData, encodeChainExport, decodeChainExport } from './export.js'
export type { ChainExport } from './export.js'
export { verifyChain, checkConsistency } from './verify.js'
export type { VerifyOptions, VerifyReport } from './verify.js'
