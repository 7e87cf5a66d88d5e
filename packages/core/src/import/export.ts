import { z } from 'zod'
import { Metadata, Timestamp } from '../contracts/common.ts'
import type { Conversation } from '../contracts/conversation.ts'
import { type Item, ItemBody, messageText } from '../contracts/items.ts'
import { LIMITS } from '../contracts/limits.ts'
import { isTerminal, TurnError, TurnStatus } from '../contracts/turn.ts'
import { Usage } from '../contracts/usage.ts'
import type { ImportConversationInput, TurnWithItems } from '../ports/stores.ts'
import { toFieldIssues } from '../validation.ts'
import { IssueList, importTitle, isRecord, MAX_SOURCE_ID_CHARS } from './shared.ts'

/**
 * Parley's own export format, `parley export --format json`, which `parley import` reads back
 * (format `parley`). Version 1:
 *
 * ```json
 * { "format": "parley", "version": 1, "exportedAt": "<ISO>",
 *   "conversations": [{ "id", "title", "metadata", "createdAt", "updatedAt",
 *     "turns": [{ "id", "status", "model", "createdAt", "completedAt", "usage",
 *                 "input": [<item>], "output": [<item>] }] }] }
 * ```
 *
 * Items are Responses-API items without their server-minted ids. Turns are the conversation's
 * current branch, oldest first. Importing gives a conversation the externalId it was imported
 * with (`metadata.externalId`) or `parley:<id>`, so a re-import is skipped.
 */

export type ExportFormat = 'json' | 'markdown'

/** A conversation and its current branch, as the server reads them for an export. */
export interface ExportSource {
  conversation: Conversation
  turns: TurnWithItems[]
}

const ExportTurn = z.object({
  id: z.string().max(MAX_SOURCE_ID_CHARS),
  status: TurnStatus,
  model: z.string().min(1).max(128),
  createdAt: Timestamp,
  completedAt: Timestamp.nullable(),
  usage: Usage.nullable(),
  /** Why a failed turn failed (absent in files exported before it was). */
  error: TurnError.nullable().optional(),
  input: z.array(ItemBody).max(LIMITS.maxInputItems),
  output: z.array(ItemBody).max(10_000),
})

const ExportConversation = z.object({
  id: z.string().min(1).max(MAX_SOURCE_ID_CHARS),
  title: z.string(),
  metadata: Metadata,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  turns: z.array(ExportTurn),
})

export const ParleyExport = z.object({
  format: z.literal('parley'),
  version: z.literal(1),
  exportedAt: Timestamp,
  conversations: z.array(ExportConversation),
})
export type ParleyExport = z.infer<typeof ParleyExport>
export type ParleyExportConversation = z.infer<typeof ExportConversation>

function bodyOf(item: Item): ItemBody {
  // The schema strips what only the store knows (id, seq, side, token count, …).
  return ItemBody.parse(item)
}

export function toParleyExport(sources: ExportSource[], exportedAt: Date): ParleyExport {
  return {
    format: 'parley',
    version: 1,
    exportedAt: exportedAt.toISOString(),
    conversations: sources.map(({ conversation, turns }) => ({
      id: conversation.id,
      title: conversation.title,
      metadata: conversation.metadata,
      createdAt: conversation.createdAt,
      updatedAt: conversation.updatedAt,
      turns: turns.map(({ turn, input, output }) => ({
        id: turn.id,
        status: turn.status,
        model: turn.model,
        createdAt: turn.createdAt,
        completedAt: turn.completedAt,
        usage: turn.usage,
        error: turn.error,
        input: input.map(bodyOf),
        output: output.map(bodyOf),
      })),
    })),
  }
}

/** Whether a parsed JSON value is (meant to be) a Parley export, for format detection. */
export function looksLikeParleyExport(value: unknown): boolean {
  return isRecord(value) && value['format'] === 'parley'
}

const EXTERNAL_ID = /^(legacy|chatgpt|parley):.+$/

export function parseParleyExport(value: unknown): ImportConversationInput[] {
  const parsed = ParleyExport.safeParse(value)
  if (!parsed.success) {
    const issues = new IssueList()
    for (const issue of toFieldIssues(parsed.error)) issues.add(issue.path ? [issue.path] : [], issue.message)
    issues.throwIfAny('Parley export')
  }
  const data = parsed.data as ParleyExport
  const seen = new Set<string>()
  const conversations: ImportConversationInput[] = []
  for (const conversation of data.conversations) {
    const origin = conversation.metadata['externalId']
    const externalId = origin && EXTERNAL_ID.test(origin) ? origin : `parley:${conversation.id}`
    if (seen.has(externalId)) continue
    seen.add(externalId)
    const metadata = { ...conversation.metadata }
    if (!metadata['externalId'] && Object.keys(metadata).length < LIMITS.maxMetadataKeys) {
      metadata['externalId'] = externalId
    }
    conversations.push({
      externalId,
      title: importTitle(conversation.title, 'Imported conversation'),
      metadata,
      createdAt: new Date(conversation.createdAt),
      updatedAt: new Date(conversation.updatedAt),
      turns: conversation.turns.map((turn) => ({
        input: turn.input,
        output: turn.output,
        createdAt: new Date(turn.createdAt),
        model: turn.model,
        // A turn still running when it was exported cannot run on in the copy.
        status: isTerminal(turn.status) ? turn.status : 'interrupted',
        completedAt: turn.completedAt ? new Date(turn.completedAt) : null,
        usage: turn.usage,
        error: turn.error ?? null,
      })),
    })
  }
  return conversations
}

/** The export of some conversations as a file: name and text. */
export function formatExport(
  sources: ExportSource[],
  format: ExportFormat,
  exportedAt: Date,
): { filename: string; content: string } {
  const only = sources.length === 1 ? sources[0] : undefined
  const stem = only
    ? `${slug(only.conversation.title)}-${only.conversation.id}`
    : `parley-export-${exportedAt.toISOString().slice(0, 10)}`
  if (format === 'json') {
    return {
      filename: `${stem}.json`,
      content: `${JSON.stringify(toParleyExport(sources, exportedAt), null, 2)}\n`,
    }
  }
  return { filename: `${stem}.md`, content: sources.map(markdownOf).join(MARKDOWN_SEPARATOR) }
}

/**
 * The pages of one export (each a `formatExport` content of the same format, in order) as one
 * file: the JSON pages' conversations in one `parley` export, the Markdown pages one after another.
 */
export function joinExportPages(pages: string[], format: ExportFormat): string {
  if (format === 'markdown') return pages.filter((page) => page !== '').join(MARKDOWN_SEPARATOR)
  const [first, ...rest] = pages.map((page) => JSON.parse(page) as ParleyExport)
  if (!first) return ''
  const joined = {
    ...first,
    conversations: first.conversations.concat(...rest.map((page) => page.conversations)),
  }
  return `${JSON.stringify(joined, null, 2)}\n`
}

const MARKDOWN_SEPARATOR = '\n\n---\n\n'

function slug(title: string): string {
  const text = title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '')
  return text || 'conversation'
}

const ROLE_NAMES = { user: 'User', assistant: 'Assistant', system: 'System', developer: 'Developer' } as const

function markdownOf({ conversation, turns }: ExportSource): string {
  const lines: string[] = [
    `# ${conversation.title.replace(/\n/g, ' ') || 'Untitled'}`,
    '',
    `- Conversation: \`${conversation.id}\``,
    `- Created: ${conversation.createdAt}`,
    `- Updated: ${conversation.updatedAt}`,
  ]
  for (const { turn, input, output } of turns) {
    for (const item of [...input, ...output]) {
      const block = markdownItem(item, turn.model)
      if (block) lines.push('', block)
    }
    if (turn.status !== 'completed') lines.push('', `_(this reply is ${turn.status})_`)
  }
  return `${lines.join('\n')}\n`
}

function markdownItem(item: Item, model: string): string | null {
  switch (item.type) {
    case 'message': {
      const who = item.role === 'assistant' ? `${ROLE_NAMES.assistant} (${model})` : ROLE_NAMES[item.role]
      return `### ${who}\n\n${messageText(item)}`
    }
    case 'function_call':
      return `> **Tool call** \`${item.name}\`\n>\n> ${fenced(item.arguments)}`
    case 'function_call_output': {
      const label = item.is_error ? 'Tool error' : 'Tool result'
      const took = item.duration_ms === undefined ? '' : ` (${item.duration_ms} ms)`
      return `> **${label}**${took}\n>\n> ${fenced(item.output)}`
    }
    case 'reasoning': {
      const summary = item.summary.map((part) => part.text).join('\n')
      return summary ? `> _Reasoning:_ ${summary.replace(/\n/g, '\n> ')}` : null
    }
  }
}

/** Inline code that survives backticks inside the text. */
function fenced(text: string): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ')
  const longest = Math.max(0, ...[...oneLine.matchAll(/`+/g)].map((match) => match[0].length))
  const ticks = '`'.repeat(longest + 1)
  return `${ticks} ${oneLine} ${ticks}`
}
