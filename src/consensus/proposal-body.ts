/**
 * @module consensus/proposal-body
 * The body of `POST /v1/proposals`, checked on every request. The zod schema is the definition and writes
 * the 400's message; `wellFormedProposalBody` is the same rule written out by hand, run first, so a good
 * body (nearly every one) skips zod's parse: at 64 concurrent clients zod was 1–2 % of a node's busy time
 * (docs/bench/consensus.md, "Per-request cost"). fastify's own JSON-schema validator was not used: its
 * default options (`removeAdditional`, `coerceTypes`) strip unknown keys and coerce types instead of
 * refusing them, so it would accept bodies this route refuses.
 * `test/consensus/proposal-body.test.ts` checks both agree on generated good and bad bodies.
 */
import { z } from 'zod'
import { CONTROL_PLANE_ROLES, REASONS } from './shape/core/index.js'
import type { Reason } from './shape/core/index.js'

/** Reasons an operator may give; `bootstrap` and `admission` are the node's own. */
export const OPERATOR_REASONS = REASONS.filter((r) => r !== 'bootstrap' && r !== 'admission' && r !== 'quorum-recovery')
export const PROPOSAL_KINDS = ['promote', 'demote', 'quarantine', 'restore', 'remove-member', 'unpin'] as const
/** Longest `nodeId` accepted, in code points as zod counts them (a surrogate pair is one). */
const PROPOSAL_NODE_ID_CHARS_MAX = 128
/** Most roles one proposal may name. */
const PROPOSAL_ROLES_MAX = 4

export const proposalBodySchema = z.strictObject({
  kind: z.enum(PROPOSAL_KINDS),
  nodeId: z.string().min(1).max(PROPOSAL_NODE_ID_CHARS_MAX),
  // NB: the shape refuses a repeated role as malformed, but only once it is committed: refuse it here, before.
  roles: z.array(z.enum(CONTROL_PLANE_ROLES)).min(1).max(PROPOSAL_ROLES_MAX)
    .refine((roles) => new Set(roles).size === roles.length, { message: 'each role at most once' }).optional(),
  reason: z.enum(OPERATOR_REASONS as [Reason, ...Reason[]]).optional(),
  pin: z.boolean().optional(),
  force: z.boolean().optional()
})

export type ProposalBody = z.infer<typeof proposalBodySchema>

const KINDS: ReadonlySet<unknown> = new Set(PROPOSAL_KINDS)
const ROLES: ReadonlySet<unknown> = new Set(CONTROL_PLANE_ROLES)
const REASONS_ALLOWED: ReadonlySet<unknown> = new Set(OPERATOR_REASONS)
const KEYS: ReadonlySet<string> = new Set(['kind', 'nodeId', 'roles', 'reason', 'pin', 'force'])

const optionalBoolean = (v: unknown): boolean => v === undefined || typeof v === 'boolean'

/** Code points as zod's length checks count them: a high surrogate followed by a low one counts once. */
function codePoints (s: string): number {
  let count = s.length
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--
      i++
    }
  }
  return count
}

/** A UTF-16 unit count within the limit is within it in code points too: count only when it overflows. */
function wellFormedNodeId (nodeId: unknown): boolean {
  if (typeof nodeId !== 'string' || nodeId.length < 1) return false
  return nodeId.length <= PROPOSAL_NODE_ID_CHARS_MAX || codePoints(nodeId) <= PROPOSAL_NODE_ID_CHARS_MAX
}

function wellFormedRoles (roles: unknown): boolean {
  if (roles === undefined) return true
  if (!Array.isArray(roles) || roles.length < 1 || roles.length > PROPOSAL_ROLES_MAX) return false
  for (let i = 0; i < roles.length; i++) {
    if (!ROLES.has(roles[i])) return false
    // At most PROPOSAL_ROLES_MAX roles: the pairwise check costs less than a Set.
    for (let j = 0; j < i; j++) if (roles[j] === roles[i]) return false
  }
  return true
}

/** Exactly `proposalBodySchema.safeParse(body).success`, without zod's allocations. */
export function wellFormedProposalBody (body: unknown): body is ProposalBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false
  const b = body as Record<string, unknown>
  for (const key of Object.keys(b)) if (!KEYS.has(key)) return false
  return KINDS.has(b.kind) &&
    wellFormedNodeId(b.nodeId) &&
    wellFormedRoles(b.roles) &&
    (b.reason === undefined || REASONS_ALLOWED.has(b.reason)) &&
    optionalBoolean(b.pin) && optionalBoolean(b.force)
}

/** The body as a ProposalBody, or the message of the 400 (zod's issues, `path: message; …`). */
export function parseProposalBody (body: unknown): { ok: true, body: ProposalBody } | { ok: false, message: string } {
  if (wellFormedProposalBody(body)) return { ok: true, body }
  const parsed = proposalBodySchema.safeParse(body)
  // Both say the same by construction (and by test); should they ever not, zod's verdict stands.
  if (parsed.success) return { ok: true, body: parsed.data }
  return { ok: false, message: zodIssues(parsed.error) }
}

/** zod's issues as one line: `path: message; …`. */
export function zodIssues (error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')
}
