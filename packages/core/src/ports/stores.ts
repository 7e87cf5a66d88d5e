import type { Page, PageInput } from '../contracts/common.ts'
import type { Conversation } from '../contracts/conversation.ts'
import type { TurnEvent } from '../contracts/events.ts'
import type { ContextItem, Item, ItemBody } from '../contracts/items.ts'
import type { TerminalStatus, Turn, TurnError, TurnSettings, TurnStatus } from '../contracts/turn.ts'
import type { Usage, UsageTotal } from '../contracts/usage.ts'

/**
 * Storage ports. `packages/persistence` implements them on PGlite and postgres.js; core only
 * ever sees these interfaces. Every method that touches user data takes the `userId` and
 * scopes its query by it: another user's id answers exactly like an unknown id (null / empty /
 * false), never with an error that reveals existence.
 *
 * Transactions are an implementation detail of each method: a method that must be atomic
 * (claim, finish, fork, …) is one transaction inside the adapter.
 */

export interface User {
  id: string
  name: string
  createdAt: string
}

export interface UserStore {
  /** Creates a user and its first API key; the plain key is returned once and stored hashed. */
  create(name: string): Promise<{ user: User; apiKey: string }>
  /** Issues another key for an existing user. */
  createKey(userId: string): Promise<{ apiKey: string; prefix: string }>
  /** The user owning a non-revoked key, or null. Constant-time against the stored hash. */
  authenticate(apiKey: string): Promise<User | null>
  /** Revokes every key with this visible prefix for the user; true when one was revoked. */
  revokeKey(userId: string, prefix: string): Promise<boolean>
  /** The one implicit user of `PARLEY_AUTH=local` (created on first call). */
  localUser(): Promise<User>
}

export interface ListConversationsInput extends PageInput {
  /** Case-insensitive substring of the title. */
  search?: string
}

export interface ConversationStore {
  create(userId: string, input: { title?: string; metadata?: Record<string, string> }): Promise<Conversation>
  get(userId: string, id: string): Promise<Conversation | null>
  /** Newest first (by last update), cursor-paginated, soft-deleted ones excluded. */
  list(userId: string, input: ListConversationsInput): Promise<Page<Conversation>>
  update(
    userId: string,
    id: string,
    patch: { title?: string; metadata?: Record<string, string> },
  ): Promise<Conversation | null>
  /** Soft delete; true when something was deleted. */
  delete(userId: string, id: string): Promise<boolean>
  /** Selects a branch: `turnId` must belong to the conversation. */
  setHead(userId: string, id: string, turnId: string): Promise<Conversation | null>
  /**
   * A new conversation holding copies (new ids) of the current-branch items up to and including
   * `atItemId`, as one completed turn chain. Null when the conversation or item is unknown.
   */
  fork(userId: string, id: string, atItemId: string): Promise<Conversation | null>
  /**
   * Imports a finished conversation (legacy chat files, ChatGPT exports) in one transaction,
   * idempotent by (userId, externalId): a second import of the same externalId changes
   * nothing and answers `skipped`.
   */
  importConversation(userId: string, input: ImportConversationInput): Promise<ImportResult>
}

export interface ImportConversationInput {
  /** Stable id from the source (e.g. `legacy:<id>`, `chatgpt:<id>`). */
  externalId: string
  title: string
  metadata: Record<string, string>
  createdAt: Date
  updatedAt: Date
  /** Ended turns, oldest first, each a chain child of the previous. */
  turns: {
    input: ItemBody[]
    output: ItemBody[]
    createdAt: Date
    model: string
    /** How the turn ended (default `completed`); a Parley export carries it. */
    status?: TerminalStatus
    completedAt?: Date | null
    usage?: Usage | null
    error?: TurnError | null
  }[]
}

export type ImportResult = { status: 'imported' | 'skipped'; conversation: Conversation }

/** What `TurnStore.claim` stores atomically with the request id. */
export interface ClaimTurnInput {
  userId: string
  conversationId: string
  requestId: string
  /** Hash of the canonical request; the same requestId with another fingerprint is a conflict. */
  fingerprint: string
  /** Parent turn; null for the first turn of a conversation. */
  parentTurnId: string | null
  /** The user's input items for this turn (ids, seq and token counts minted by the store). */
  input: ItemBody[]
  /** Token count per input item (same order), counted by core. */
  inputTokenCounts: number[]
  provider: string
  model: string
  instructions: string | null
  settings: TurnSettings
  /** The claimed turn's lease runs until now + leaseMs. */
  leaseMs: number
  /** Make the new turn the conversation's head (true for sends, regenerate and edit). */
  setHead: boolean
  /**
   * When `parentTurnId` is null: parent the new turn on the conversation's head as it is at the
   * claim (read in the same statement), instead of making it a root turn. Saves the caller a
   * read of the conversation before the claim.
   */
  parentFromHead?: boolean
  /**
   * The caller runs the turn at once: claim it `streaming` (not `pending`) and return its
   * context with it, saving the separate start (`startStreaming`) and its round trip.
   */
  start?: boolean
}

export type ClaimResult =
  /**
   * This call won: the new turn (`pending`, or `streaming` with `start`) and its stored input
   * items; with `start`, also its context (ancestors' items, oldest first, then its input), and
   * may say the parent's upstream response id (null: the parent did not complete with one;
   * absent: not read, ask `get`).
   */
  | {
      status: 'claimed'
      turn: Turn
      input: Item[]
      context?: ContextItem[]
      parentUpstreamResponseId?: string | null
    }
  /** The requestId is already claimed and its turn is still pending or streaming. */
  | { status: 'in_flight'; turn: Turn }
  /** The requestId's turn reached a terminal status: replay it. */
  | { status: 'completed'; turn: Turn; input: Item[]; output: Item[] }
  | { status: 'conflict'; reason: 'idempotency_key_reused' | 'conversation_busy' }
  /** The conversation (or parent turn) does not exist for this user. */
  | { status: 'not_found' }

export interface FinishTurnInput {
  status: Extract<TurnStatus, 'completed' | 'failed' | 'cancelled'>
  /** Output items not yet stored through `appendOutput` (e.g. the final text). */
  output: ItemBody[]
  outputTokenCounts: number[]
  /** Ids already announced in events for these items (same order); minted by the store when absent. */
  outputIds?: (string | undefined)[]
  usage: Usage | null
  /** One ledger row per provider call; unique per (provider, upstreamResponseId): never billed twice. */
  ledger: UsageLedgerEntry[]
  error: TurnError | null
  upstreamResponseId: string | null
  truncated: boolean
  /** When the turn ended (default: the database's clock at the finish). */
  completedAt?: string
  /**
   * Events of this turn to append to its log in the same statement, only when this call ends
   * the turn: the batch still waiting and the terminal events. A finish that changes nothing
   * (the turn had ended already) writes none of them.
   */
  events?: TurnEvent[]
}

export interface UsageLedgerEntry {
  provider: string
  model: string
  /** The upstream's response id, or `<turnId>:<step>` when the provider has none. */
  upstreamResponseId: string
  usage: Usage
}

export interface TurnWithItems {
  turn: Turn
  input: Item[]
  output: Item[]
}

/** One entry of the current branch, for message listing. */
export interface BranchTurn extends TurnWithItems {
  /** Turns sharing this turn's parent, this one included, ordered by creation. */
  siblingIds: string[]
}

export interface TurnStore {
  /**
   * Claims `requestId` for the user atomically, together with storing the input items and the
   * `pending` turn (INSERT … ON CONFLICT DO NOTHING on the unique index; no read-then-write).
   * Busy conversations are decided by a unique index as well.
   */
  claim(input: ClaimTurnInput): Promise<ClaimResult>
  get(userId: string, turnId: string): Promise<TurnWithItems | null>
  getByRequestId(userId: string, requestId: string): Promise<TurnWithItems | null>
  /** The fingerprint of the request that claimed a turn (null: unknown, or another user's turn). */
  fingerprintOf(userId: string, turnId: string): Promise<string | null>
  /** pending → streaming; false when the turn is no longer pending (e.g. swept). */
  markStreaming(turnId: string, leaseMs: number): Promise<boolean>
  /**
   * Optional: `markStreaming` and `context` together (one round trip where the store can).
   * Null when the turn is no longer pending; otherwise the turn's context.
   */
  startStreaming?(userId: string, turnId: string, leaseMs: number): Promise<ContextItem[] | null>
  /**
   * Stores output items during the tool loop (calls and results, before the next model step).
   * `ids` (same order) are ids the orchestrator already announced in events, e.g. a message
   * streamed under its id; the store mints ids for the others.
   */
  appendOutput(
    turnId: string,
    items: ItemBody[],
    tokenCounts: number[],
    ids?: (string | undefined)[],
  ): Promise<Item[]>
  /** Stores the remaining output, usage, ledger rows and the terminal status in one transaction. */
  finish(turnId: string, input: FinishTurnInput): Promise<TurnWithItems>
  /** Extends the lease of a running turn; false when it is no longer running. */
  renewLease(turnId: string, leaseMs: number): Promise<boolean>
  /**
   * Turns every pending/streaming turn whose lease expired into `interrupted`, keeping output.
   * `running`: turns the caller itself is running, left alone: their process is alive, only late
   * to renew (a loaded event loop, a queue for a connection).
   */
  sweepExpired(running?: readonly string[]): Promise<Turn[]>
  /**
   * The context of a turn: the items of its ancestors, oldest first, then its own input — in
   * a bounded number of queries, whatever the chain's length.
   */
  context(userId: string, turnId: string): Promise<ContextItem[]>
  /** The branch ending at the conversation's head, oldest turn first, cursor-paginated by turn. */
  branch(userId: string, conversationId: string, page: PageInput): Promise<Page<BranchTurn>>
  /**
   * The conversation of the user's turn, when both exist (the conversation not deleted): what a
   * request naming only a turn (`previous_response_id`) needs before its claim, in one small read.
   */
  conversationOf(userId: string, turnId: string): Promise<string | null>
  /** Id of the conversation's latest completed turn on its branch (`last_response_id`). */
  lastResponseId(userId: string, conversationId: string): Promise<string | null>
}

export interface EventLog {
  /** Appends a batch (one round trip). Ids are unique per turn: re-appending a seq is ignored. */
  append(events: TurnEvent[]): Promise<void>
  /** Events of the turn with seq > afterSeq, in order. */
  readAfter(turnId: string, afterSeq: number, limit?: number): Promise<TurnEvent[]>
  /** Deletes events of terminal turns finished before `before`; returns how many were deleted. */
  prune(before: Date): Promise<number>
}

export interface UsageStore {
  /** Totals by UTC day and model, for days in [from, to). */
  totals(userId: string, range: { from: Date; to: Date }): Promise<UsageTotal[]>
}

/** Everything the orchestrator needs from storage. */
export interface Stores {
  users: UserStore
  conversations: ConversationStore
  turns: TurnStore
  events: EventLog
  usage: UsageStore
  /** Cheap readiness probe: database reachable and migrations applied. */
  ready(): Promise<boolean>
  close(): Promise<void>
}
