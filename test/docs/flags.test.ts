/**
 * The docs and the CLI name the same flags. An operator reads README.md's command table and the commands written
 * out in docs/ (`revoada chain export --from H`), and `revoada <command> --help`: a flag only the help shows is one
 * nobody finds, and a flag only the docs name fails with `unknown option` (exit 3) when typed as written.
 * Method: the built CLI's `--help` is read for every command and subcommand, then (1) every option of a command is
 * named in that command's row of README.md's table, but for `--help`, `--data-dir` and `--json`, which the note
 * under the table gives every command; (2) in README.md and docs/*.md (not docs/bench, the record of past runs),
 * every `--flag` or `-x` written in a code span or code line after `revoada <command>` is an option of it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO, cliRun } from '../cli/helpers.js'

interface Command { path: string[], options: string[], commands: Command[] }

/** Options every command takes and README's note gives once, not in each row. */
const UNIVERSAL = new Set(['--help', '-h', '--data-dir', '--json'])
const OPTION_LINE = /^ {2}(?:(-\w), )?(--[\w-]+)?/
const COMMAND_LINE = /^ {2}([a-z][\w-]*)(?= |$)/

/** A command's options and subcommand names, from its `--help`. */
export function parseHelp (help: string): { options: string[], commands: string[] } {
  const options: string[] = []
  const commands: string[] = []
  let section = ''
  for (const line of help.split('\n')) {
    if (/^\w.*:$/.test(line)) { section = line; continue }
    if (section === 'Options:') {
      const m = OPTION_LINE.exec(line)
      if (m?.[1] !== undefined) options.push(m[1])
      if (m?.[2] !== undefined) options.push(m[2])
    } else if (section === 'Commands:') {
      const m = COMMAND_LINE.exec(line)
      if (m?.[1] !== undefined && m[1] !== 'help') commands.push(m[1])
    }
  }
  return { options, commands }
}

async function readTree (commandPath: string[]): Promise<Command> {
  const r = await cliRun([...commandPath, '--help'], 60_000)
  expect(r.code, `revoada ${commandPath.join(' ')} --help`).toBe(0)
  const { options, commands } = parseHelp(r.stdout)
  const children = await Promise.all(commands.map(async (name) => await readTree([...commandPath, name])))
  return { path: commandPath, options, commands: children }
}

function descendants (c: Command): Command[] {
  return [c, ...c.commands.flatMap(descendants)]
}

function named (commands: Command[], word: string): Command | undefined {
  return commands.find((c) => c.path[c.path.length - 1] === word)
}

/**
 * The commands `words` name, walking down from `revoada` (a word naming a sibling of the command reached moves
 * to it: `testbed up … \| status …`), and the options they, their ancestors and their subcommands take.
 */
function resolve (root: Command, words: string[]): { command: Command, options: Set<string> } {
  const options = new Set([...root.options, ...UNIVERSAL])
  const take = (c: Command): void => { for (const d of descendants(c)) for (const o of d.options) options.add(o) }
  let command = root
  let parent: Command | undefined
  for (const word of words) {
    const child = named(command.commands, word)
    const sibling = parent === undefined ? undefined : named(parent.commands, word)
    if (child !== undefined) {
      for (const o of command.options) options.add(o)
      parent = command
      command = child
    } else if (sibling !== undefined) {
      take(command)
      command = sibling
    }
  }
  take(command)
  return { command, options }
}

/** Cells of a markdown table row, `\|` kept inside its cell. */
function cells (row: string): string[] {
  return row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim())
}

/** The flags a text names: `--word`, and `-x` standing alone. */
function flagsIn (text: string): string[] {
  return [...text.matchAll(/(?<![\w-])(--[a-z][\w-]*|-[a-zA-Z])(?![\w-])/g)].map((m) => m[1] as string)
}

/** Each command written out in a markdown text: the words after `revoada` and the flags after them. */
export function commandsWritten (markdown: string): Array<{ words: string[], flags: string[], text: string }> {
  const spans = [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string)
  const blockLines = [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].flatMap((m) => (m[1] as string).split('\n'))
  const out: Array<{ words: string[], flags: string[], text: string }> = []
  for (const text of [...spans, ...blockLines]) {
    // A comment after `#` in a code line is prose, and `a | b` in a command ends at the pipe of the shell.
    const code = text.replace(/\s#\s.*$/, '')
    for (const part of code.split(/\brevoada (?=[\w<[-])/).slice(1)) {
      const segment = part.split(/ \| (?!-)|\$\(|\)/)[0] as string
      const words = segment.split(/\s+/).filter((w) => /^[a-z][\w-]*$/.test(w))
      out.push({ words, flags: flagsIn(segment), text })
    }
  }
  return out
}

const docs = (): Array<{ name: string, text: string }> => ['README.md', ...readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  .map((name) => ({ name, text: readFileSync(path.join(REPO, name), 'utf8') }))

describe('CLI flags in the docs', () => {
  it('should read options and subcommands from a help text, and commands from markdown', () => {
    const help = 'Usage: revoada x [options] [command]\n\nOptions:\n  --dir <dir>   a dir\n                --wrapped text\n  -o, --output <f>  out\n  -h, --help  help\n\nCommands:\n  up [options]  start\n  help [command]  help\n'
    expect(parseHelp(help)).toEqual({ options: ['--dir', '-o', '--output', '-h', '--help'], commands: ['up'] })
    const root: Command = { path: [], options: ['--version'], commands: [{ path: ['t'], options: ['--dir'], commands: [{ path: ['t', 'up'], options: ['--nodes'], commands: [] }, { path: ['t', 'kill'], options: [], commands: [] }] }] }
    expect([...resolve(root, ['t', 'up', 'kill']).options].sort()).toEqual(['--data-dir', '--dir', '--help', '--json', '--nodes', '--version', '-h'])
    expect([...resolve(root, ['t', 'kill']).options]).not.toContain('--nodes')
    const md = 'Run `revoada testbed up --nodes 5 --dir D` or `revoada status | head`.\n\n```sh\nkill "$(revoada status --get pid)" # then revoada --bogus\n```\n'
    expect(commandsWritten(md).map((c) => `${c.words.join(' ')}:${c.flags.join(',')}`)).toEqual(['testbed up:--nodes,--dir', 'status:', 'status pid:--get'])
  })

  it('should name every option of every command in README.md\'s command table, and only real ones in the docs', async () => {
    const root = await readTree([])
    const top = root.commands
    // A reader that finds few has stopped reading the help.
    expect(top.length).toBeGreaterThan(15)
    expect(descendants(root).length).toBeGreaterThan(35)
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8')
    const rows = readme.split('\n').filter((l) => l.startsWith('| `revoada ')).map(cells)
    const missing: string[] = []
    for (const command of top) {
      const name = command.path[0] as string
      const own = rows.filter((r) => new RegExp(`\`revoada ${name}(?![\\w-])`).test(r[0] ?? ''))
      if (own.length === 0) { missing.push(`revoada ${name}: no row`); continue }
      const text = own.map((r) => r.join(' ')).join(' ')
      const named = new Set(flagsIn(text))
      for (const d of descendants(command)) {
        for (const o of d.options) {
          if (UNIVERSAL.has(o) || !o.startsWith('--')) continue
          if (!named.has(o)) missing.push(`revoada ${d.path.join(' ')} ${o}`)
        }
      }
    }
    expect(missing).toEqual([])
    const unknown: string[] = []
    let written = 0
    for (const doc of docs()) {
      for (const c of commandsWritten(doc.text)) {
        written++
        const { command, options } = resolve(root, c.words)
        for (const flag of c.flags) {
          if (!options.has(flag) && !(command === root && flag === '--version')) unknown.push(`${doc.name}: ${flag} is no option of revoada ${command.path.join(' ')} in "${c.text}"`)
        }
      }
    }
    expect(written).toBeGreaterThan(100)
    expect(unknown).toEqual([])
  }, 300_000)
})
