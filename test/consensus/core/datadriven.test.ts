/**
 * Runs the datadriven scenario files in testdata/ (STYLE §21). Each file opens with a prose goal, then
 * blocks of `command args` / `----` / expected output. Set REWRITE=1 to regenerate expected output, then
 * review the diff like code.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Interaction, parseCommand } from './interaction.js'

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata')
const rewrite = process.env.REWRITE === '1'

interface Block { command: string, expected: string[], line: number }

function parse (text: string): { blocks: Block[], render: (outputs: string[][]) => string } {
  const lines = text.split('\n')
  const blocks: Block[] = []
  const pieces: (string | number)[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.trim() === '' || line.startsWith('#')) { pieces.push(line); i++; continue }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 1}: command without ---- separator: ${line}`)
    const expected: string[] = []
    let j = i + 2
    while (j < lines.length && lines[j]!.trim() !== '') expected.push(lines[j++]!)
    pieces.push(blocks.length)
    blocks.push({ command: line, expected, line: i + 1 })
    i = j
  }
  const render = (outputs: string[][]): string => pieces.map((p) => {
    if (typeof p === 'string') return p
    const out = outputs[p] ?? []
    return [blocks[p]!.command, '----', ...(out.length > 0 ? out : ['ok'])].join('\n')
  }).join('\n')
  return { blocks, render }
}

describe('raft scenarios (testdata)', () => {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()
  for (const file of files) {
    it(`should match ${file} when replayed`, () => {
      const full = path.join(dir, file)
      const { blocks, render } = parse(fs.readFileSync(full, 'utf8'))
      const env = new Interaction()
      const outputs: string[][] = []
      for (const block of blocks) {
        const actual = env.run(parseCommand(block.command))
        outputs.push(actual)
        if (!rewrite) {
          const shown = actual.length > 0 ? actual : ['ok']
          expect(shown, `${file}:${block.line} ${block.command}`).toEqual(block.expected)
        }
      }
      if (rewrite) fs.writeFileSync(full, render(outputs))
    })
  }
})
