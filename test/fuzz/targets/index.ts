/**
 * @module test/fuzz/targets
 * Every fuzz target, by name (the `--target` values of `npm run fuzz`).
 */
import type { FuzzTarget } from '../target.js'
import { addressLookupTarget } from './address-lookup.js'
import { adminApiTarget } from './admin-api.js'
import { batchEnvelopeTarget } from './batch-envelope.js'
import { codecParityTarget } from './codec-parity.js'
import { configFileTarget } from './config-file.js'
import { contentIndexTarget } from './content-index.js'
import { contentWireTarget } from './content-wire.js'
import { decisionRecordTarget } from './decision-record.js'
import { gossipHeartbeatTarget } from './gossip-heartbeat.js'
import { joinStringTarget } from './join-string.js'
import { livenessDigestTarget } from './liveness-digest.js'
import { raftStepTarget } from './raft-step.js'
import { signedProposalTarget } from './signed-proposal.js'
import { streamFramesTarget } from './stream-frames.js'
import { shapeRestoreTarget, snapshotRestoreTarget } from './snapshot-restore.js'
import { walRecoveryTarget } from './wal-recovery.js'

export const TARGETS: ReadonlyMap<string, FuzzTarget> = new Map([
  raftStepTarget, gossipHeartbeatTarget, livenessDigestTarget, signedProposalTarget, batchEnvelopeTarget, snapshotRestoreTarget, shapeRestoreTarget, walRecoveryTarget,
  joinStringTarget, configFileTarget, adminApiTarget, contentWireTarget, streamFramesTarget, addressLookupTarget, contentIndexTarget, codecParityTarget,
  decisionRecordTarget
].map((t) => [t.name, t]))
