import type { LiveTurn } from './live-turn.ts'

/**
 * The in-progress action of a conversation, kept in sessionStorage (per tab, survives reloads):
 * enough to finish it after a reload or a lost connection without a second model call —
 * the request id to retry the start with, the turn once known, and the assembled reply with its
 * last event id so a resumed subscription continues exactly where the page was.
 */
export type PendingAction =
  | { kind: 'send'; text: string }
  | { kind: 'regenerate'; targetTurnId: string }
  | { kind: 'edit'; targetTurnId: string; text: string }

export type PendingSend = PendingAction & {
  conversationId: string
  requestId: string
  /** Null until the start call answered. */
  turnId: string | null
  snapshot: LiveTurn | null
  createdAt: number
}

const PREFIX = 'parley.pending.v1.'

export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export function loadPending(storage: KeyValueStorage, conversationId: string): PendingSend | null {
  const raw = safeGet(storage, PREFIX + conversationId)
  if (!raw) return null
  try {
    const value: unknown = JSON.parse(raw)
    if (!isPendingSend(value) || value.conversationId !== conversationId) return null
    return value
  } catch {
    return null
  }
}

export function savePending(storage: KeyValueStorage, pending: PendingSend): void {
  try {
    storage.setItem(PREFIX + pending.conversationId, JSON.stringify(pending))
  } catch {
    // Storage full or disabled: resuming after a reload is lost, the live reply is not.
  }
}

export function clearPending(storage: KeyValueStorage, conversationId: string, requestId?: string): void {
  if (requestId !== undefined) {
    const current = loadPending(storage, conversationId)
    if (current && current.requestId !== requestId) return
  }
  try {
    storage.removeItem(PREFIX + conversationId)
  } catch {
    // Nothing to clean up when storage is unavailable.
  }
}

/** Forgets every conversation's action (another user takes over this tab). */
export function clearAllPending(storage: Storage): void {
  try {
    const keys = Array.from({ length: storage.length }, (_, index) => storage.key(index))
    for (const key of keys) if (key?.startsWith(PREFIX)) storage.removeItem(key)
  } catch {
    // Nothing to clean up when storage is unavailable.
  }
}

function safeGet(storage: KeyValueStorage, key: string): string | null {
  try {
    return storage.getItem(key)
  } catch {
    return null
  }
}

function isPendingSend(value: unknown): value is PendingSend {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  const baseOk =
    typeof record['conversationId'] === 'string' &&
    typeof record['requestId'] === 'string' &&
    (record['turnId'] === null || typeof record['turnId'] === 'string') &&
    typeof record['createdAt'] === 'number'
  if (!baseOk) return false
  const snapshot = record['snapshot']
  if (snapshot !== null && !isSnapshot(snapshot, record['turnId'])) return false
  switch (record['kind']) {
    case 'send':
      return typeof record['text'] === 'string'
    case 'regenerate':
      return typeof record['targetTurnId'] === 'string'
    case 'edit':
      return typeof record['targetTurnId'] === 'string' && typeof record['text'] === 'string'
    default:
      return false
  }
}

function isSnapshot(value: unknown, turnId: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return (
    record['turnId'] === turnId &&
    typeof record['lastSeq'] === 'number' &&
    Array.isArray(record['parts']) &&
    typeof record['status'] === 'string'
  )
}
