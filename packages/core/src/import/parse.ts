import { z } from 'zod'
import { Metadata } from '../contracts/common.ts'
import { Title } from '../contracts/conversation.ts'
import { ItemBody } from '../contracts/items.ts'
import { LIMITS } from '../contracts/limits.ts'
import { safeText } from '../contracts/text.ts'
import { TerminalStatus } from '../contracts/turn.ts'
import { Usage } from '../contracts/usage.ts'
import { ValidationError } from '../errors.ts'
import type { ImportConversationInput } from '../ports/stores.ts'
import { toFieldIssues } from '../validation.ts'
import { parseChatGptExport } from './chatgpt.ts'
import { looksLikeParleyExport, parseParleyExport } from './export.ts'
import { parseLegacyChatFile } from './legacy.ts'
import type { ParseOptions } from './shared.ts'

export type { ParseOptions } from './shared.ts'

/**
 * The entry point of imports: file text → the conversations to import. Pure and whole-file:
 * it either returns every conversation of the file or throws one ValidationError, so a caller
 * that validates before writing never writes part of a corrupt file.
 */

/** Output items of one imported turn, and turns of one imported conversation. */
export const MAX_IMPORTED_OUTPUT_ITEMS = 10_000
export const MAX_IMPORTED_TURNS = 100_000

export const IMPORT_FORMATS = ['legacy', 'chatgpt', 'parley'] as const
export type ImportFormat = (typeof IMPORT_FORMATS)[number]

export function isImportFormat(value: unknown): value is ImportFormat {
  return typeof value === 'string' && (IMPORT_FORMATS as readonly string[]).includes(value)
}

/**
 * The format of a parsed JSON value, from its top-level shape only — a Parley export is an
 * object tagged `format: "parley"`, a ChatGPT export an array, a legacy chat file any other
 * object — so that a corrupt file is still recognized and its problems reported by path.
 * Null for anything else.
 */
export function detectImportFormat(value: unknown): ImportFormat | null {
  if (looksLikeParleyExport(value)) return 'parley'
  if (Array.isArray(value)) return 'chatgpt'
  if (value !== null && typeof value === 'object') return 'legacy'
  return null
}

/**
 * What a store accepts as one imported conversation. Checked for the whole file before the
 * first write, so that no conversation of a file can fail once writing has begun.
 */
export const ImportConversation = z.object({
  externalId: safeText(512).min(1),
  title: Title,
  metadata: Metadata,
  createdAt: z.date(),
  updatedAt: z.date(),
  turns: z
    .array(
      z.object({
        input: z.array(ItemBody).max(LIMITS.maxInputItems),
        output: z.array(ItemBody).max(MAX_IMPORTED_OUTPUT_ITEMS),
        createdAt: z.date(),
        model: safeText(128).min(1),
        status: TerminalStatus.optional(),
        completedAt: z.date().nullable().optional(),
        usage: Usage.nullable().optional(),
        error: z
          .object({ reason: safeText(64), message: safeText(4096) })
          .nullable()
          .optional(),
      }),
    )
    .max(MAX_IMPORTED_TURNS),
})

export interface ParsedImport {
  format: ImportFormat
  conversations: ImportConversationInput[]
}

export function parseImportFile(
  text: string,
  options: ParseOptions & { format?: ImportFormat } = {},
): ParsedImport {
  let value: unknown
  try {
    // A BOM is common in files saved by Windows editors; JSON.parse refuses it.
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message : 'unreadable'
    throw new ValidationError(
      [{ path: '', message: `not valid JSON: ${detail}` }],
      `The file is not valid JSON: ${detail}`,
    )
  }
  const format = options.format ?? detectImportFormat(value)
  if (!format) {
    throw new ValidationError(
      [{ path: '', message: 'unknown format' }],
      'Unknown file format: expected a legacy chat file, a ChatGPT conversations.json or a Parley export (choose one with --format)',
    )
  }
  const conversations = parseFormat(value, format, options)
  const checked = z.array(ImportConversation).safeParse(conversations)
  if (!checked.success) {
    const issues = toFieldIssues(checked.error)
    const first = issues[0]!
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''
    throw new ValidationError(issues, `Invalid import: conversation ${first.path}: ${first.message}${more}`)
  }
  return { format, conversations }
}

function parseFormat(value: unknown, format: ImportFormat, options: ParseOptions): ImportConversationInput[] {
  switch (format) {
    case 'legacy':
      return parseLegacyChatFile(value, options)
    case 'chatgpt':
      return parseChatGptExport(value, options)
    case 'parley':
      return parseParleyExport(value)
  }
}
