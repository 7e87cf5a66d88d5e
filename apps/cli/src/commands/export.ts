import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { joinExportPages } from '@parley/core'
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
  // All conversations come a page at a time; the pages make one file.
  const pages: string[] = []
  let conversations = 0
  let cursor: string | null = null
  do {
    const page: { content: string; conversations: number; nextCursor: string | null } =
      await ctx.client.exports.conversation.query({
        format,
        ...(id ? { id } : {}),
        ...(cursor ? { cursor } : {}),
      })
    pages.push(page.content)
    conversations += page.conversations
    cursor = page.nextCursor
  } while (cursor)
  const content = joinExportPages(pages, format)
  if (!output) {
    ctx.stdout.write(content.endsWith('\n') ? content : `${content}\n`)
    return EXIT.ok
  }
  const path = resolve(ctx.config.cwd, output)
  try {
    writeFileSync(path, content)
  } catch {
    throw new UsageError(`cannot write ${output}`)
  }
  const count = `${conversations} conversation${conversations === 1 ? '' : 's'}`
  ctx.stderr.write(`Exported ${count} to ${output}\n`)
  return EXIT.ok
}
