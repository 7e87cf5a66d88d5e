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
  stableHash,
} from './shared.ts'

/**
 * ChatGPT's `conversations.json` export: an array of conversations, each a tree of nodes
 * (`mapping`: id → { id, message, parent, children }) whose `current_node` is the leaf of the
 * branch the user last saw. That branch — current_node up to the root — is what we import.
 *
 * Skipped gracefully (they are not conversation text): system and tool messages, messages
 * hidden from the conversation, messages addressed to a tool (`recipient` other than `all`),
 * non-text content (code, execution output, browsing, reasoning, images) and empty messages.
 * Malformed structure (wrong types, dangling or cyclic parents) is a corrupt file.
 */

const TEXT_CONTENT_TYPES = new Set(['text', 'multimodal_text'])

export const CHATGPT_MODEL = 'chatgpt'

export function parseChatGptExport(value: unknown, options: ParseOptions = {}): ImportConversationInput[] {
  const issues = new IssueList()
  const now = options.now ?? new Date()
  if (!Array.isArray(value)) {
    issues.add([], 'expected a JSON array of conversations')
    issues.throwIfAny('ChatGPT export')
  }
  const conversations: ImportConversationInput[] = []
  const seen = new Set<string>()
  ;(value as unknown[]).forEach((raw, index) => {
    if (!isRecord(raw)) {
      issues.add([index], 'expected a conversation object')
      return
    }
    const parsed = parseConversation(raw, index, issues, now, options)
    if (!parsed) return
    // The same conversation twice in one file is one conversation (and one externalId).
    if (seen.has(parsed.externalId)) return
    seen.add(parsed.externalId)
    conversations.push(parsed)
  })
  issues.throwIfAny('ChatGPT export')
  return conversations
}

interface Node {
  parent: string | null
  children: string[]
  message: unknown
}

function parseConversation(
  raw: Record<string, unknown>,
  index: number,
  issues: IssueList,
  now: Date,
  options: ParseOptions,
): ImportConversationInput | null {
  const before = issues.issues.length
  const mapping = raw['mapping']
  if (!isRecord(mapping)) {
    issues.add([index, 'mapping'], 'expected an object of nodes')
    return null
  }
  if (raw['title'] !== undefined && raw['title'] !== null && typeof raw['title'] !== 'string') {
    issues.add([index, 'title'], 'expected a string')
  }
  const created = readTimestamp(raw['create_time'], [index, 'create_time'], issues)
  const updated = readTimestamp(raw['update_time'], [index, 'update_time'], issues)
  const sourceId = raw['conversation_id'] ?? raw['id']
  if (sourceId !== undefined && sourceId !== null && typeof sourceId !== 'string') {
    issues.add([index, 'conversation_id'], 'expected a string')
  }
  if (typeof sourceId === 'string' && (sourceId === '' || sourceId.length > MAX_SOURCE_ID_CHARS)) {
    issues.add([index, 'conversation_id'], `must have 1 to ${MAX_SOURCE_ID_CHARS} characters`)
  }

  const nodes = new Map<string, Node>()
  for (const [key, node] of Object.entries(mapping)) {
    const path = [index, 'mapping', key]
    if (!isRecord(node)) {
      issues.add(path, 'expected a node object')
      continue
    }
    const parent = node['parent']
    if (parent !== undefined && parent !== null && typeof parent !== 'string') {
      issues.add([...path, 'parent'], 'expected a node id or null')
      continue
    }
    const children = node['children'] ?? []
    if (!Array.isArray(children) || !children.every((child) => typeof child === 'string')) {
      issues.add([...path, 'children'], 'expected an array of node ids')
      continue
    }
    nodes.set(key, { parent: parent ?? null, children, message: node['message'] })
  }
  if (issues.issues.length > before) return null

  const branch = mainBranch(raw['current_node'], nodes, [index], issues)
  if (!branch) return null

  const messages: SourceMessage[] = []
  let model: string | null = null
  for (const key of branch) {
    const found = nodeMessage(nodes.get(key)?.message, [index, 'mapping', key, 'message'], issues)
    if (!found) continue
    messages.push(found.message)
    if (found.model && found.message.role === 'assistant') model = found.model
  }
  if (issues.issues.length > before) return null

  const messageDates = messages.map((message) => message.createdAt)
  const createdAt = created ?? earliest([...messageDates, updated], now)
  const updatedAt = latest([updated, ...messageDates, createdAt], createdAt)
  const externalKey =
    typeof sourceId === 'string'
      ? sourceId
      : // Old exports carry no id: the creation time and title identify a conversation stably.
        `h${stableHash(`${String(raw['create_time'])}\u0001${String(raw['title'])}`)}`
  const externalId = `chatgpt:${externalKey}`
  const metadata: Record<string, string> = { source: 'chatgpt', externalId: metadataValue(externalId) }
  return {
    externalId,
    title: importTitle(raw['title'], 'Imported ChatGPT conversation'),
    metadata,
    createdAt,
    updatedAt,
    turns: groupTurns(messages, {
      fallbackDate: createdAt,
      model: model ? metadataValue(model).slice(0, 128) : CHATGPT_MODEL,
      issues,
      ...(options.maxPartChars ? { maxPartChars: options.maxPartChars } : {}),
    }),
  }
}

/**
 * The node ids from the root to `current_node`, oldest first. Without a usable current_node
 * (very old exports), the branch that always follows the last child from the root.
 */
function mainBranch(
  currentNode: unknown,
  nodes: Map<string, Node>,
  path: (string | number)[],
  issues: IssueList,
): string[] | null {
  if (nodes.size === 0) return []
  let leaf: string | null = null
  if (typeof currentNode === 'string' && nodes.has(currentNode)) {
    leaf = currentNode
  } else if (currentNode !== undefined && currentNode !== null) {
    issues.add([...path, 'current_node'], 'must be the id of a node in mapping')
    return null
  } else {
    const roots = [...nodes.entries()].filter(([, node]) => node.parent === null || !nodes.has(node.parent))
    let at = roots[0]?.[0]
    const visited = new Set<string>()
    while (at !== undefined && !visited.has(at)) {
      visited.add(at)
      leaf = at
      const next: string | undefined = nodes.get(at)?.children.at(-1)
      at = next !== undefined && nodes.has(next) ? next : undefined
    }
    if (leaf === null) return []
  }

  const chain: string[] = []
  const visited = new Set<string>()
  let at: string | null = leaf
  while (at !== null) {
    if (visited.has(at)) {
      issues.add([...path, 'mapping', at, 'parent'], 'parent links form a cycle')
      return null
    }
    visited.add(at)
    chain.push(at)
    const node = nodes.get(at)
    if (!node) {
      issues.add([...path, 'mapping', chain.at(-2) ?? at, 'parent'], `refers to the unknown node '${at}'`)
      return null
    }
    at = node.parent
  }
  return chain.reverse()
}

function nodeMessage(
  raw: unknown,
  path: (string | number)[],
  issues: IssueList,
): { message: SourceMessage; model: string | null } | null {
  if (raw === null || raw === undefined) return null
  if (!isRecord(raw)) {
    issues.add(path, 'expected a message object or null')
    return null
  }
  const author = raw['author']
  if (!isRecord(author) || typeof author['role'] !== 'string') {
    issues.add([...path, 'author', 'role'], 'expected a string')
    return null
  }
  const content = raw['content']
  if (!isRecord(content) || typeof content['content_type'] !== 'string') {
    issues.add([...path, 'content', 'content_type'], 'expected a string')
    return null
  }
  const parts = content['parts']
  if (parts !== undefined && parts !== null && !Array.isArray(parts)) {
    issues.add([...path, 'content', 'parts'], 'expected an array')
    return null
  }
  const at = readTimestamp(raw['create_time'], [...path, 'create_time'], issues)
  const metadata = isRecord(raw['metadata']) ? raw['metadata'] : {}

  const role = author['role']
  if (role !== 'user' && role !== 'assistant') return null
  if (metadata['is_visually_hidden_from_conversation'] === true) return null
  const recipient = raw['recipient']
  if (typeof recipient === 'string' && recipient !== 'all') return null
  if (!TEXT_CONTENT_TYPES.has(content['content_type'])) return null

  // multimodal_text mixes strings with image and file pointers (objects): keep the strings.
  const text = repairText(
    (parts ?? []).filter((part): part is string => typeof part === 'string' && part !== '').join('\n'),
  )
  if (text.trim() === '') return null
  const model = typeof metadata['model_slug'] === 'string' ? metadata['model_slug'] : null
  return { message: { role, text, createdAt: at, path }, model }
}
