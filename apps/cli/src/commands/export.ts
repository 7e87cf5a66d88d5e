import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { oneOf, stringFlag } from '../args.ts'
import type { CommandContext } from '../context.ts'
import { EXIT, UsageError } from '../errors.ts'

export const EXPORT_FLAGS = { conversation: 'string', format: 'string', output: 'string' } as const

export const EXPORT_USAGE = `Usage: parley export [--conversation ID] [--format json|markdown] [--output FILE]

Exports one conversation, or all of them, with their current branch. JSON (the default) is
the Parley export format, which 'parley import' reads back. Without --output the export goes
to stdout.`

export async function exportCommand(ctx: CommandContext): Promise<number> {
  if (ctx.args.positionals.length > 0)
    throw new UsageError('export takes no arguments (use --conversation ID)')
  const format = oneOf(stringFlag(ctx.args, 'format'), ['json', 'markdown'] as const, 'format') ?? 'json'
  const id = stringFlag(ctx.args, 'conversation')
  const output = stringFlag(ctx.args, 'output')
  const result = await ctx.client.exports.conversation.query({ format, ...(id ? { id } : {}) })
  if (!output) {
    ctx.stdout.write(result.content.endsWith('\n') ? result.content : `${result.content}\n`)
    return EXIT.ok
  }
  const path = resolve(ctx.config.cwd, output)
  try {
    writeFileSync(path, result.content)
  } catch {
    throw new UsageError(`cannot write ${output}`)
  }
  const count = `${result.conversations} conversation${result.conversations === 1 ? '' : 's'}`
  ctx.stderr.write(`Exported ${count} to ${output}\n`)
  return EXIT.ok
}
