import { z } from 'zod'
import { ItemBody } from './items.ts'
import { Turn, TurnError } from './turn.ts'
import { Usage } from './usage.ts'

/**
 * The events of a running turn. Each carries `id = "<turnId>:<seq>"`, seq increasing from 1.
 * They are appended to the durable event log and delivered live; a client that resumes with
 * `lastEventId` gets exactly the events after it.
 */

/** A stored output item as carried by events (id minted, body complete). */
export const EventItem = z.intersection(ItemBody, z.object({ id: z.string() }))
export type EventItem = z.infer<typeof EventItem>

export const TurnStartedEvent = z.object({ type: z.literal('turn.started'), turn: Turn })
/** An output item begins: for a message, text deltas follow; for a call, `tool.call` follows. */
export const ItemStartedEvent = z.object({
  type: z.literal('item.started'),
  itemId: z.string(),
  itemType: z.enum(['message', 'function_call', 'function_call_output', 'reasoning']),
})
export const TextDeltaEvent = z.object({
  type: z.literal('text.delta'),
  itemId: z.string(),
  delta: z.string(),
})
export const ToolCallEvent = z.object({
  type: z.literal('tool.call'),
  itemId: z.string(),
  callId: z.string(),
  name: z.string(),
  arguments: z.string(),
  /** Whether Parley runs the tool (server tool) or the client must (declared function tool). */
  executor: z.enum(['server', 'client']),
})
export const ToolResultEvent = z.object({
  type: z.literal('tool.result'),
  itemId: z.string(),
  callId: z.string(),
  name: z.string(),
  output: z.string(),
  isError: z.boolean(),
  durationMs: z.number().int().nonnegative(),
})
/** An output item is complete and stored. */
export const ItemCompletedEvent = z.object({ type: z.literal('item.completed'), item: EventItem })
export const UsageEvent = z.object({ type: z.literal('usage'), usage: Usage })
export const TurnCompletedEvent = z.object({
  type: z.literal('turn.completed'),
  turn: Turn,
  output: z.array(EventItem),
})
export const TurnFailedEvent = z.object({
  type: z.literal('turn.failed'),
  turn: Turn,
  error: TurnError,
  output: z.array(EventItem),
})
export const TurnCancelledEvent = z.object({
  type: z.literal('turn.cancelled'),
  turn: Turn,
  output: z.array(EventItem),
})
/** Written by the lease sweep for a turn whose process died. */
export const TurnInterruptedEvent = z.object({
  type: z.literal('turn.interrupted'),
  turn: Turn,
  output: z.array(EventItem),
})

export const TurnEventBody = z.discriminatedUnion('type', [
  TurnStartedEvent,
  ItemStartedEvent,
  TextDeltaEvent,
  ToolCallEvent,
  ToolResultEvent,
  ItemCompletedEvent,
  UsageEvent,
  TurnCompletedEvent,
  TurnFailedEvent,
  TurnCancelledEvent,
  TurnInterruptedEvent,
])
export type TurnEventBody = z.infer<typeof TurnEventBody>
export type TurnEventType = TurnEventBody['type']

export const TurnEvent = z.intersection(
  TurnEventBody,
  z.object({ id: z.string(), turnId: z.string(), seq: z.number().int().positive() }),
)
export type TurnEvent = z.infer<typeof TurnEvent>

export const TERMINAL_EVENT_TYPES: readonly TurnEventType[] = [
  'turn.completed',
  'turn.failed',
  'turn.cancelled',
  'turn.interrupted',
]
export function isTerminalEvent(event: { type: string }): boolean {
  return (TERMINAL_EVENT_TYPES as readonly string[]).includes(event.type)
}

export function eventId(turnId: string, seq: number): string {
  return `${turnId}:${seq}`
}

/** Parses "<turnId>:<seq>"; null when malformed. */
export function parseEventId(id: string): { turnId: string; seq: number } | null {
  const at = id.lastIndexOf(':')
  if (at <= 0) return null
  const seq = Number(id.slice(at + 1))
  if (!Number.isSafeInteger(seq) || seq < 0) return null
  return { turnId: id.slice(0, at), seq }
}
