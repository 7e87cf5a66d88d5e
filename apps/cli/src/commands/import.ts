import { openAsBlob, readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { detectImportFormat, IMPORT_FORMATS, type ImportFormat } from '@parley/core'
import { oneOf, stringFlag } from '../args.ts'
import { type CommandContext, printJson } from '../context.ts'
import { EXIT, UsageError } from '../errors.ts'
import { ProgressBlob, progressBar } from '../progress.ts'

export const IMPORT_FLAGS = { format: 'string' } as const

export const IMPORT_USAGE = `Usage: parley import FILE [--format legacy|chatgpt|parley] [--json]

Imports conversations: a legacy chat file, ChatGPT's conversations.json, or a Parley export
(parley export --format json). The format is detected when --format is omitted. Importing the
same file again changes nothing: every conversation is reported as skipped. A corrupt file is
rejected as a whole; nothing of it is written.`

/** The server's limit too: bigger files are refused before uploading a byte. */
export const IMPORT_MAX_BYTES = 50 * 1024 * 1024
/** Files at least this big show a progress bar (on a terminal). */
const PROGRESS_MIN_BYTES = 1024 * 1024

const FORMAT_NAMES: Record<ImportFormat, string> = {
  legacy: 'legacy chat file',
  chatgpt: 'ChatGPT export',
  parley: 'Parley export',
}

export async function importCommand(ctx: CommandContext): Promise<number> {
  const [file, ...extra] = ctx.args.positionals
  if (!file || extra.length > 0)
    throw new UsageError('usage: parley import FILE [--format legacy|chatgpt|parley]')
  const format = oneOf(stringFlag(ctx.args, 'format'), IMPORT_FORMATS, 'format')
  const path = resolve(ctx.config.cwd, file)
  let size: number
  try {
    const stat = statSync(path)
    if (!stat.isFile()) throw new UsageError(`${file} is not a file`)
    size = stat.size
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(`cannot read ${file}: no such file`)
  }
  if (size > IMPORT_MAX_BYTES) {
    throw new UsageError(`${file} is too large to import (${size} bytes; the limit is ${IMPORT_MAX_BYTES})`)
  }
  if (format) assertFormat(path, file, format)

  const blob = await openAsBlob(path)
  const bar =
    ctx.stderr.isTTY && size >= PROGRESS_MIN_BYTES ? progressBar(ctx.stderr, ctx.errStyle, 'uploading') : null
  const body = bar ? new ProgressBlob(blob, (sent, total) => bar.update(sent, total)) : blob
  let summary: Awaited<ReturnType<typeof ctx.client.imports.run.mutate>>
  try {
    summary = await ctx.client.imports.run.mutate(body)
  } finally {
    bar?.done()
  }

  if (ctx.json) {
    printJson(ctx, summary)
    return EXIT.ok
  }
  const style = ctx.style
  const total = summary.imported + summary.skipped
  ctx.stdout.write(
    `${FORMAT_NAMES[summary.format]}: ${total} conversation${total === 1 ? '' : 's'} — ` +
      `${style.green(`${summary.imported} imported`)}, ${summary.skipped} skipped (already imported)\n`,
  )
  for (const entry of summary.conversations) {
    const status = entry.status === 'imported' ? style.green('imported') : style.dim('skipped ')
    const turns = `${entry.turns} turn${entry.turns === 1 ? '' : 's'}`
    ctx.stdout.write(`  ${status}  ${style.cyan(entry.id)}  ${entry.title} ${style.dim(`(${turns})`)}\n`)
  }
  return EXIT.ok
}

/**
 * The server detects the format from the content; an explicit --format is checked here first,
 * so a wrong guess is reported instead of importing something else.
 */
function assertFormat(path: string, file: string, format: ImportFormat): void {
  let value: unknown
  try {
    const text = readFileSync(path, 'utf8')
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch {
    // Not JSON: the server's validation says so precisely.
    return
  }
  const detected = detectImportFormat(value)
  if (detected && detected !== format) {
    throw new UsageError(
      `${file} is a ${FORMAT_NAMES[detected]}, not a ${FORMAT_NAMES[format]} (--format ${format})`,
    )
  }
}
