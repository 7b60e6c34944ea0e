/**
 * @module materializer/header
 * The two comment lines every manifest this node renders starts with: the role and the template it came
 * from, and a warning not to edit it. The template is named by its canonical CID text (canonicalTemplateCid),
 * so a spelling the raise to protocol level 7 rewrites renders the same bytes before and after it, and the
 * static pod is not restarted (docs/MATERIALIZER.md). A file is recognised as one this node wrote by its
 * header with the template compared as a CID, not as text: a build before this one named the committed
 * spelling (`test/materializer/canonical-header.test.ts`).
 */
import { canonicalTemplateCid, sameTemplateCid } from './template-cid.js'

const lead = (role: string): string => `# Written by revoada for the ${role} role from template `
const TAIL = '.\n# Do not edit: revoada rewrites or removes this file as the role moves.\n'

/** The header of a manifest rendered for `role` from the template `templateCid` (any spelling of it). */
export function manifestHeader (role: string, templateCid: string): string {
  return lead(role) + canonicalTemplateCid(templateCid) + TAIL
}

/**
 * Whether `text` starts with the header of `role` and a spelling of the template CID `templateCid`: the header
 * of that very text (every build's, as before), or of another spelling of one CID.
 */
export function carriesHeader (text: string, role: string, templateCid: string): boolean {
  const start = lead(role)
  if (text.startsWith(start + templateCid + TAIL)) return true
  if (!text.startsWith(start)) return false
  // A CID text holds no '.': the first one ends it.
  const end = text.indexOf('.', start.length)
  return end > start.length && text.startsWith(TAIL, end) && sameTemplateCid(text.slice(start.length, end), templateCid)
}
