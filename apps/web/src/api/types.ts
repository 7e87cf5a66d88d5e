import type {
  BranchTurn,
  Conversation,
  EditInput,
  Page,
  RegenerateInput,
  SendInput,
  StartedTurn,
  Turn,
  TurnEvent,
  TurnWithItems,
  UsageTotal,
} from '@parley/core'

/**
 * The slice of the Parley API the web app uses (docs/api.md). Components depend on this, not
 * on the transport, so the UI logic can be tested with a fake and the client can change
 * underneath in one file (`connect.ts`).
 */
export interface Health {
  status: 'ok'
  auth: 'local' | 'keys'
  provider: string
  model: string
}

/** `connecting`: (re)opening the transport; `open`: events flow. */
export type StreamConnection = 'connecting' | 'open'

export interface WatchHandlers {
  onEvent(event: TurnEvent): void
  onConnection(state: StreamConnection): void
  /** The subscription ended with an error; the caller decides whether to resume. */
  onError(error: unknown): void
  /** The server ended the stream (after the terminal event). */
  onComplete(): void
}

export type Unsubscribe = () => void

export interface ParleyApi {
  health(): Promise<Health>
  conversations: {
    list(input: { cursor?: string; limit?: number; search?: string }): Promise<Page<Conversation>>
    get(id: string): Promise<Conversation>
    create(input: { title?: string }): Promise<Conversation>
    update(input: { id: string; title: string }): Promise<Conversation>
    delete(id: string): Promise<{ id: string; deleted: true }>
    fork(input: { id: string; atItemId: string }): Promise<Conversation>
    switchBranch(input: { id: string; turnId: string }): Promise<Conversation>
  }
  messages: {
    list(input: { conversationId: string; cursor?: string; limit?: number }): Promise<Page<BranchTurn>>
  }
  chat: {
    send(input: SendInput): Promise<StartedTurn>
    regenerate(input: RegenerateInput): Promise<StartedTurn>
    edit(input: EditInput): Promise<StartedTurn>
    cancel(turnId: string): Promise<Turn>
    turn(turnId: string): Promise<TurnWithItems>
    watch(input: { turnId: string; lastEventId?: string }, handlers: WatchHandlers): Unsubscribe
  }
  usage: {
    totals(input: { from?: string; to?: string }): Promise<UsageTotal[]>
  }
  close(): void
}

/** A typed error as the server sends it (`data.reason`), or a transport failure. */
export interface ApiErrorInfo {
  reason: string
  message: string
  /** True when nothing reached the server or its answer was lost: safe to retry as is. */
  network: boolean
}

export function errorInfo(error: unknown): ApiErrorInfo {
  if (typeof error === 'object' && error !== null) {
    const record = error as { message?: unknown; data?: unknown; reason?: unknown }
    const data = record.data as { reason?: unknown } | null | undefined
    const message = typeof record.message === 'string' ? record.message : 'Something went wrong'
    // The typed client's errors carry `reason` ('network' / 'unavailable' when no answer came).
    const reason =
      typeof record.reason === 'string'
        ? record.reason
        : data && typeof data.reason === 'string'
          ? data.reason
          : null
    if (reason === 'network' || reason === 'unavailable') {
      return { reason, message: networkMessage(message), network: true }
    }
    if (reason) return { reason, message, network: false }
    return { reason: 'network', message: networkMessage(message), network: true }
  }
  return { reason: 'network', message: 'The server could not be reached', network: true }
}

/** Refusals that the same request, sent again, would meet again: only a changed message helps. */
const FINAL_REASONS = new Set([
  'validation',
  'payload_too_large',
  'idempotency_key_reused',
  'unauthenticated',
])

/** Whether sending the same request again may succeed (offered as Retry). */
export function canRetry(error: ApiErrorInfo): boolean {
  return !FINAL_REASONS.has(error.reason)
}

function networkMessage(message: string): string {
  return /fetch|network|closed|socket|connect/i.test(message) ? 'The server could not be reached' : message
}
