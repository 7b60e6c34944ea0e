/**
 * @module consensus/shape/core
 * The MeshShape state machine's pure core: types, the shape value, the signed envelope codec and the
 * total transition function.
 */
export * from './types.js'
export { MeshShape, sortRoles, isControlPlaneRole } from './mesh-shape.js'
export type { ShapeData } from './mesh-shape.js'
export { templateNameProblem, templateCidProblem, templatesProblem } from './catalog.js'
export { applyBatch, applyProposal, isUnknownReasonAtLevel, transition, requiredConfChange, voterSteps, checkVoterMove } from './apply.js'
export type { ShapeApplyContext } from './apply.js'
export { decodeProposalOrError, decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid, envelopeCommands, envelopeRequestIds, parseTarget, requestOwner } from './envelope.js'
export { decodeRequest, encodeRequest, isRequestBytes } from './request.js'
export type { ShapeRequest } from './request.js'
export type { SignedProposal } from './envelope.js'
export * from './constants.js'
export { ForwardedRequestDeferredError, ForwardedRequestInvalidError, MalformedProposalError, ProposalBatchEmptyError, ProposalBatchTooLargeError, ProtocolLevelUnsupportedError, ShapeDataInvalidError } from './errors.js'
export * from './protocol.js'
export { faultTolerance, mergeTarget, sameTarget, targetConcerns } from './target-safety.js'
