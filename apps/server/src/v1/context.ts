import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Stores, TurnService, User } from '@parley/core'
import { z } from 'zod'

export interface V1Deps {
  turns: TurnService
  stores: Stores
  /** The caller, from `Authorization: Bearer <key>`; null answers 401. */
  authenticate: (req: IncomingMessage) => Promise<User | null>
  /** The model of a request that names none. */
  defaultModel: string
  log?: (entry: V1LogEntry) => void
}

/** One log line of `/v1`: ids, statuses and reasons, never a body or a key. */
export interface V1LogEntry {
  level: 'info' | 'warn' | 'error'
  msg: string
  [field: string]: unknown
}

export interface V1Request {
  deps: V1Deps
  /** The handler's memory of which conversation a response belongs to. */
  responses: ResponseConversations
  user: User
  req: IncomingMessage
  res: ServerResponse
  url: URL
  /** `Idempotency-Key`, when the client sent one. */
  idempotencyKey: string | null
}

// Ids that cannot exist are answered like unknown ones without touching the database.
const ResponseIdFormat = z.string().regex(/^resp_[A-Za-z0-9]{8,64}$/)
const ConversationIdFormat = z.string().regex(/^conv_[A-Za-z0-9]{8,64}$/)
const ItemIdFormat = z.string().regex(/^item_[A-Za-z0-9]{8,64}$/)

export const isResponseId = (id: string) => ResponseIdFormat.safeParse(id).success
export const isConversationId = (id: string) => ConversationIdFormat.safeParse(id).success
export const isItemId = (id: string) => ItemIdFormat.safeParse(id).success

/**
 * The conversation of each response this instance has created or looked up. A continuation with
 * `previous_response_id` needs it before its claim, and a response never changes conversation or
 * user, so a remembered answer saves that read. It can be out of date in one way only, the
 * conversation deleted since, and the claim checks the conversation and the parent again.
 */
export class ResponseConversations {
  readonly #byResponse = new Map<string, { userId: string; conversationId: string }>()

  constructor(private readonly max = 10_000) {}

  get(userId: string, responseId: string): string | null {
    const entry = this.#byResponse.get(responseId)
    return entry?.userId === userId ? entry.conversationId : null
  }

  remember(userId: string, responseId: string, conversationId: string): void {
    if (this.#byResponse.size >= this.max && !this.#byResponse.has(responseId)) {
      // The oldest entry goes first (a Map keeps insertion order).
      const oldest = this.#byResponse.keys().next()
      if (!oldest.done) this.#byResponse.delete(oldest.value)
    }
    this.#byResponse.set(responseId, { userId, conversationId })
  }
}
