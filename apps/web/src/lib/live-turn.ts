import type { EventItem, ItemBody, TurnError, TurnEvent, TurnStatus, Usage } from '@parley/core'

/**
 * Assembles the events of one running turn into what the message view shows. Pure: the same
 * reducer runs for live events, for events replayed after a reconnect, and for a snapshot
 * restored from sessionStorage after a reload — which is why it must ignore anything it has
 * already applied (`seq <= lastSeq`): a resumed subscription may repeat the edge event, and
 * the transport may resume on its own as well as through us.
 */

export interface ToolResultView {
  output: string
  isError: boolean
  durationMs: number | null
}

export type TurnPart =
  | { kind: 'text'; itemId: string; text: string }
  | {
      kind: 'tool'
      itemId: string
      callId: string
      name: string
      arguments: string
      result: ToolResultView | null
    }

export interface LiveTurn {
  turnId: string
  status: TurnStatus
  /** Seq of the last applied event; 0 before any. The resume point is `${turnId}:${lastSeq}`. */
  lastSeq: number
  parts: TurnPart[]
  usage: Usage | null
  error: TurnError | null
  model: string | null
  /** Set when an event arrived past a hole in the sequence (should never happen). */
  gap: boolean
}

export function emptyLiveTurn(turnId: string): LiveTurn {
  return {
    turnId,
    status: 'pending',
    lastSeq: 0,
    parts: [],
    usage: null,
    error: null,
    model: null,
    gap: false,
  }
}

export function lastEventId(turn: LiveTurn): string | undefined {
  return turn.lastSeq > 0 ? `${turn.turnId}:${turn.lastSeq}` : undefined
}

export function isFinished(turn: LiveTurn): boolean {
  return (
    turn.status === 'completed' ||
    turn.status === 'failed' ||
    turn.status === 'cancelled' ||
    turn.status === 'interrupted'
  )
}

/** Applies one event; returns the same object when the event is a duplicate or foreign. */
export function isTerminalType(type: TurnEvent['type']): boolean {
  return (
    type === 'turn.completed' ||
    type === 'turn.failed' ||
    type === 'turn.cancelled' ||
    type === 'turn.interrupted'
  )
}

export function applyEvent(state: LiveTurn, event: TurnEvent): LiveTurn {
  if (event.turnId !== state.turnId || event.seq <= state.lastSeq) return state
  const next: LiveTurn = {
    ...state,
    lastSeq: event.seq,
    gap: state.gap || event.seq !== state.lastSeq + 1,
  }
  switch (event.type) {
    case 'turn.started':
      return {
        ...next,
        status: event.turn.status === 'pending' ? 'streaming' : event.turn.status,
        model: event.turn.model,
      }
    case 'item.started':
      if (event.itemType === 'message' && !findPart(next.parts, event.itemId)) {
        return {
          ...next,
          status: 'streaming',
          parts: [...next.parts, { kind: 'text', itemId: event.itemId, text: '' }],
        }
      }
      return { ...next, status: 'streaming' }
    case 'text.delta': {
      const existing = findPart(next.parts, event.itemId)
      if (!existing) {
        return { ...next, parts: [...next.parts, { kind: 'text', itemId: event.itemId, text: event.delta }] }
      }
      return {
        ...next,
        parts: next.parts.map((part) =>
          part.itemId === event.itemId && part.kind === 'text'
            ? { ...part, text: part.text + event.delta }
            : part,
        ),
      }
    }
    case 'tool.call': {
      const call = {
        kind: 'tool' as const,
        itemId: event.itemId,
        callId: event.callId,
        name: event.name,
        arguments: event.arguments,
      }
      const existing = findPart(next.parts, event.itemId)
      if (!existing) return { ...next, parts: [...next.parts, { ...call, result: null }] }
      return {
        ...next,
        parts: next.parts.map((part) =>
          part.itemId === event.itemId
            ? { ...call, result: part.kind === 'tool' ? part.result : null }
            : part,
        ),
      }
    }
    case 'tool.result':
      return {
        ...next,
        parts: setToolResult(next.parts, event.callId, {
          output: event.output,
          isError: event.isError,
          durationMs: event.durationMs,
        }),
      }
    case 'item.completed':
      return { ...next, parts: mergeItem(next.parts, event.item) }
    case 'usage':
      return { ...next, usage: event.usage }
    case 'turn.completed':
    case 'turn.cancelled':
    case 'turn.interrupted':
      return finish(next, event.turn.status, event.output, event.turn.usage, null, event.turn.model)
    case 'turn.failed':
      return finish(next, event.turn.status, event.output, event.turn.usage, event.error, event.turn.model)
  }
}

export function applyEvents(state: LiveTurn, events: readonly TurnEvent[]): LiveTurn {
  return events.reduce(applyEvent, state)
}

/** The display parts of stored output items (messages.list, chat.turn, terminal events). */
export function partsFromItems(items: readonly (ItemBody & { id: string })[]): TurnPart[] {
  let parts: TurnPart[] = []
  for (const item of items) parts = mergeItem(parts, item)
  return parts
}

function finish(
  state: LiveTurn,
  status: TurnStatus,
  output: readonly EventItem[],
  usage: Usage | null,
  error: TurnError | null,
  model: string,
): LiveTurn {
  // The terminal event carries the stored output: it is authoritative. A cancelled turn may
  // carry less than was streamed (text not yet stored), so keep the streamed parts then.
  const stored = partsFromItems(output)
  const parts = stored.length > 0 || status === 'completed' ? stored : state.parts
  return { ...state, status, parts, usage: usage ?? state.usage, error, model }
}

function findPart(parts: readonly TurnPart[], itemId: string): TurnPart | undefined {
  return parts.find((part) => part.itemId === itemId)
}

function setToolResult(parts: readonly TurnPart[], callId: string, result: ToolResultView): TurnPart[] {
  return parts.map((part) => (part.kind === 'tool' && part.callId === callId ? { ...part, result } : part))
}

function mergeItem(parts: readonly TurnPart[], item: ItemBody & { id: string }): TurnPart[] {
  switch (item.type) {
    case 'message': {
      if (item.role !== 'assistant') return [...parts]
      const text = item.content
        .map((part) =>
          part.type === 'output_text' ? part.text : part.type === 'refusal' ? part.refusal : '',
        )
        .join('')
      const part: TurnPart = { kind: 'text', itemId: item.id, text }
      return findPart(parts, item.id)
        ? parts.map((existing) => (existing.itemId === item.id ? part : existing))
        : [...parts, part]
    }
    case 'function_call': {
      const existing = findPart(parts, item.id)
      const part: TurnPart = {
        kind: 'tool',
        itemId: item.id,
        callId: item.call_id,
        name: item.name,
        arguments: item.arguments,
        result: existing?.kind === 'tool' ? existing.result : null,
      }
      return existing ? parts.map((other) => (other.itemId === item.id ? part : other)) : [...parts, part]
    }
    case 'function_call_output':
      return setToolResult(parts, item.call_id, {
        output: item.output,
        isError: item.is_error ?? false,
        durationMs: item.duration_ms ?? null,
      })
    case 'reasoning':
      return [...parts]
  }
}

/** Plain text of everything the assistant said in a turn (copy button, tests). */
export function turnText(parts: readonly TurnPart[]): string {
  return parts
    .filter((part): part is Extract<TurnPart, { kind: 'text' }> => part.kind === 'text')
    .map((part) => part.text)
    .join('\n\n')
}
