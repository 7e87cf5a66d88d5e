import { assistantText, type ItemBody, userText } from '../contracts/items.ts'
import { LIMITS } from '../contracts/limits.ts'
import { shortened } from '../contracts/text.ts'
import { type FieldIssue, ValidationError } from '../errors.ts'
import type { ImportConversationInput } from '../ports/stores.ts'

/** Collects the problems of a whole file, so one upload reports all of them at once (bounded). */
export class IssueList {
  readonly issues: FieldIssue[] = []
  private dropped = 0

  add(path: (string | number)[], message: string): void {
    if (this.issues.length >= 50) {
      this.dropped += 1
      return
    }
    this.issues.push({ path: path.map(String).join('.'), message })
  }

  get empty(): boolean {
    return this.issues.length === 0
  }

  /** Throws a ValidationError whose message names the file kind and the first problem. */
  throwIfAny(kind: string): void {
    if (this.empty) return
    const first = this.issues[0]!
    const total = this.issues.length + this.dropped
    const where = first.path ? `${first.path}: ` : ''
    const more = total > 1 ? ` (and ${total - 1} more)` : ''
    throw new ValidationError(this.issues, `Invalid ${kind}: ${where}${first.message}${more}`)
  }
}

/** Source ids become externalIds (and metadata values): keep them well inside the metadata limit. */
export const MAX_SOURCE_ID_CHARS = 200

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

// Postgres cannot store U+0000 and UTF-8 cannot encode a lone surrogate. Imported history is
// someone's archive, not an API request: such characters are repaired rather than refused.
const NUL_ALL = /\u0000/g
const LONE_SURROGATE_ALL = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

export function repairText(text: string): string {
  return text.replace(NUL_ALL, '').replace(LONE_SURROGATE_ALL, '\uFFFD')
}

/** A title that fits the title limit; blank titles get `fallback`. */
export function importTitle(raw: unknown, fallback: string): string {
  const text = typeof raw === 'string' ? repairText(raw).replace(/\s+/g, ' ').trim() : ''
  const title = text || fallback
  return shortened(title, LIMITS.maxTitleChars)
}

/** A metadata value that fits the metadata limits. */
export function metadataValue(value: string): string {
  const text = repairText(value)
  return text.length > LIMITS.maxMetadataValueChars ? text.slice(0, LIMITS.maxMetadataValueChars) : text
}

/**
 * A timestamp as the sources write it: epoch seconds (Python `time.time()`), epoch
 * milliseconds, or an ISO 8601 string. Null when absent; `'invalid'` when present but unusable.
 */
export function parseTimestamp(value: unknown): Date | null | 'invalid' {
  if (value === null || value === undefined) return null
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return 'invalid'
    // Seconds until the year 33658; anything larger is milliseconds.
    const ms = value > 1e12 ? value : value * 1000
    const date = new Date(ms)
    return Number.isNaN(date.getTime()) ? 'invalid' : date
  }
  if (typeof value === 'string') {
    const trimmed = value.trim()
    if (trimmed === '') return null
    if (/^\d+(\.\d+)?$/.test(trimmed)) return parseTimestamp(Number(trimmed))
    const date = new Date(trimmed)
    return Number.isNaN(date.getTime()) ? 'invalid' : date
  }
  return 'invalid'
}

/** Reads a timestamp field; an unusable value is an issue at `path`. */
export function readTimestamp(value: unknown, path: (string | number)[], issues: IssueList): Date | null {
  const parsed = parseTimestamp(value)
  if (parsed === 'invalid') {
    issues.add(path, 'expected a timestamp (epoch seconds, epoch milliseconds or an ISO 8601 string)')
    return null
  }
  return parsed
}

export interface ParseOptions {
  /** Used for dates a source does not carry; defaults to now. */
  now?: Date
  /** Characters per content part (tests shrink it); defaults to the contract limit. */
  maxPartChars?: number
}

/** One message of a flattened source history. */
export interface SourceMessage {
  role: 'user' | 'assistant'
  text: string
  createdAt: Date | null
  /** Where the message is in the source file, for error messages. */
  path: (string | number)[]
}

export interface MessageItemsOptions {
  /** How many characters fit in one content part. */
  maxPartChars?: number
}

/**
 * Splits a long text over several content parts: a part holds at most `maxTextChars`, and a
 * message at most `maxContentParts` parts. Null when the text is too long even so.
 */
function splitText(text: string, maxPartChars: number): string[] | null {
  if (text.length <= maxPartChars) return [text]
  const parts: string[] = []
  let at = 0
  while (at < text.length) {
    let end = Math.min(at + maxPartChars, text.length)
    // Never cut a surrogate pair in half: each half would be a lone surrogate.
    const last = text.charCodeAt(end - 1)
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1
    parts.push(text.slice(at, end))
    at = end
  }
  return parts.length <= LIMITS.maxContentParts ? parts : null
}

function messageItem(message: SourceMessage, maxPartChars: number): ItemBody | null {
  const chunks = splitText(message.text, maxPartChars)
  if (!chunks) return null
  if (message.role === 'user') {
    const item = userText(chunks[0]!)
    if (item.type === 'message') item.content = chunks.map((text) => ({ type: 'input_text', text }))
    return item
  }
  const item = assistantText(chunks[0]!)
  if (item.type === 'message') {
    item.content = chunks.map((text) => ({ type: 'output_text', text, annotations: [] }))
  }
  return item
}

/**
 * Groups a flat history into turns: each run of user messages is a turn's input, the
 * assistant messages after it its output. Assistant messages before the first user message
 * (a greeting) are kept as context at the start of the first turn's input.
 */
export function groupTurns(
  messages: SourceMessage[],
  options: { fallbackDate: Date; model: string; issues: IssueList } & MessageItemsOptions,
): ImportConversationInput['turns'] {
  const maxPartChars = options.maxPartChars ?? LIMITS.maxTextChars
  const turns: ImportConversationInput['turns'] = []
  let current: ImportConversationInput['turns'][number] | null = null
  let leading: ItemBody[] = []
  let leadingDate: Date | null = null

  for (const message of messages) {
    const item = messageItem(message, maxPartChars)
    if (!item) {
      options.issues.add(
        message.path,
        `message is too long (more than ${LIMITS.maxContentParts * maxPartChars} characters)`,
      )
      continue
    }
    if (message.role === 'user') {
      // A store takes at most maxInputItems per turn: a longer run of user messages goes on
      // in a next turn (with no reply in between), so nothing is dropped.
      if (!current || current.output.length > 0 || current.input.length >= LIMITS.maxInputItems) {
        current = {
          input: [...leading, item],
          output: [],
          createdAt: leadingDate ?? message.createdAt ?? options.fallbackDate,
          model: options.model,
        }
        leading = []
        leadingDate = null
        turns.push(current)
      } else {
        current.input.push(item)
      }
      continue
    }
    if (current) {
      current.output.push(item)
      continue
    }
    leading.push(item)
    leadingDate ??= message.createdAt
  }

  // A history with assistant messages only still becomes one turn, so nothing is lost.
  if (leading.length > 0) {
    turns.push({
      input: leading,
      output: [],
      createdAt: leadingDate ?? options.fallbackDate,
      model: options.model,
    })
  }
  return turns
}

/** A short stable hash (FNV-1a, 64 bit, hex) for sources that carry no id of their own. */
export function stableHash(text: string): string {
  let hash = 0xcbf29ce484222325n
  const prime = 0x100000001b3n
  for (let index = 0; index < text.length; index += 1) {
    hash ^= BigInt(text.charCodeAt(index))
    hash = (hash * prime) & 0xffffffffffffffffn
  }
  return hash.toString(16).padStart(16, '0')
}

/** The latest of some dates; `fallback` when there is none. */
export function latest(dates: (Date | null)[], fallback: Date): Date {
  let best: Date | null = null
  for (const date of dates) if (date && (!best || date > best)) best = date
  return best ?? fallback
}

export function earliest(dates: (Date | null)[], fallback: Date): Date {
  let best: Date | null = null
  for (const date of dates) if (date && (!best || date < best)) best = date
  return best ?? fallback
}
