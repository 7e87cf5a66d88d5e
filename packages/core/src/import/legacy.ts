import type { ImportConversationInput } from '../ports/stores.ts'
import {
  earliest,
  groupTurns,
  IssueList,
  importTitle,
  isRecord,
  latest,
  MAX_SOURCE_ID_CHARS,
  metadataValue,
  type ParseOptions,
  readTimestamp,
  repairText,
  type SourceMessage,
} from './shared.ts'

/**
 * The legacy chat file (one JSON object per user, as the Flask app stored it):
 *
 * ```json
 * { "<conversation id>": {
 *     "data": { "id", "created_at", "metadata", "object": "conversation" },
 *     "chat_name": "…", "last_update": <timestamp>,
 *     "messages": [{ "role": "user" | "assistant", "text": "…", "timestamp": …, "response_id": "resp_…" | null }],
 *     "last_response_id": "resp_…" | null } }
 * ```
 *
 * Timestamps are epoch seconds, epoch milliseconds or ISO strings. Each conversation becomes an
 * import with externalId `legacy:<conversation id>`. The whole file is validated before anything
 * is returned: a corrupt file throws one ValidationError listing its problems.
 */

export const LEGACY_MODEL = 'legacy'

export function parseLegacyChatFile(value: unknown, options: ParseOptions = {}): ImportConversationInput[] {
  const issues = new IssueList()
  const now = options.now ?? new Date()
  if (!isRecord(value)) {
    issues.add([], 'expected a JSON object mapping conversation ids to conversations')
    issues.throwIfAny('legacy chat file')
  }
  const file = value as Record<string, unknown>
  const conversations: ImportConversationInput[] = []

  for (const [id, raw] of Object.entries(file)) {
    if (id.trim() === '' || id.length > MAX_SOURCE_ID_CHARS) {
      issues.add([id], `conversation id must have 1 to ${MAX_SOURCE_ID_CHARS} characters`)
      continue
    }
    if (!isRecord(raw)) {
      issues.add([id], 'expected a conversation object')
      continue
    }
    const parsed = parseConversation(id, raw, issues, now, options)
    if (parsed) conversations.push(parsed)
  }

  issues.throwIfAny('legacy chat file')
  return conversations
}

function parseConversation(
  id: string,
  raw: Record<string, unknown>,
  issues: IssueList,
  now: Date,
  options: ParseOptions,
): ImportConversationInput | null {
  const before = issues.issues.length
  const data = raw['data']
  if (data !== undefined && data !== null && !isRecord(data)) issues.add([id, 'data'], 'expected an object')
  if (raw['chat_name'] !== undefined && raw['chat_name'] !== null && typeof raw['chat_name'] !== 'string') {
    issues.add([id, 'chat_name'], 'expected a string')
  }
  const lastUpdate = readTimestamp(raw['last_update'], [id, 'last_update'], issues)
  const created = isRecord(data)
    ? readTimestamp(data['created_at'], [id, 'data', 'created_at'], issues)
    : null
  const lastResponseId = raw['last_response_id']
  if (lastResponseId !== undefined && lastResponseId !== null && typeof lastResponseId !== 'string') {
    issues.add([id, 'last_response_id'], 'expected a string or null')
  }

  const rawMessages = raw['messages']
  if (!Array.isArray(rawMessages)) {
    issues.add([id, 'messages'], 'expected an array of messages')
    return null
  }
  const messages: SourceMessage[] = []
  rawMessages.forEach((message, index) => {
    const path = [id, 'messages', index]
    if (!isRecord(message)) {
      issues.add(path, 'expected a message object')
      return
    }
    const role = message['role']
    const text = message['text']
    if (typeof role !== 'string') {
      issues.add([...path, 'role'], 'expected a string')
      return
    }
    if (typeof text !== 'string') {
      issues.add([...path, 'text'], 'expected a string')
      return
    }
    const at = readTimestamp(message['timestamp'], [...path, 'timestamp'], issues)
    const responseId = message['response_id']
    if (responseId !== undefined && responseId !== null && typeof responseId !== 'string') {
      issues.add([...path, 'response_id'], 'expected a string or null')
    }
    // The old app only ever wrote user and assistant messages; anything else (a system prompt
    // kept by hand) is not conversation history. Empty bubbles carry nothing to import.
    if (role !== 'user' && role !== 'assistant') return
    const repaired = repairText(text)
    if (repaired.trim() === '') return
    messages.push({ role, text: repaired, createdAt: at, path })
  })
  if (issues.issues.length > before) return null

  const messageDates = messages.map((message) => message.createdAt)
  const createdAt = created ?? earliest([...messageDates, lastUpdate], now)
  const updatedAt = latest([lastUpdate, ...messageDates, createdAt], createdAt)
  const metadata: Record<string, string> = { source: 'legacy', externalId: metadataValue(`legacy:${id}`) }
  if (typeof lastResponseId === 'string' && lastResponseId) {
    metadata['legacyLastResponseId'] = metadataValue(lastResponseId)
  }
  const turns = groupTurns(messages, {
    fallbackDate: createdAt,
    model: LEGACY_MODEL,
    issues,
    ...(options.maxPartChars ? { maxPartChars: options.maxPartChars } : {}),
  })
  return {
    externalId: `legacy:${id}`,
    title: importTitle(raw['chat_name'], 'Imported chat'),
    metadata,
    createdAt,
    updatedAt,
    turns,
  }
}
