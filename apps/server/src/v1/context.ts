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
  log?: (entry: Record<string, unknown>) => void
}

export interface V1Request {
  deps: V1Deps
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
