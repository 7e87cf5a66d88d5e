import type { ItemBody } from '../contracts/items.ts'

/**
 * Pure functions that turn stored history into a context every provider accepts.
 */

/** Output stored for a call whose result never came (its turn was cancelled, failed or died). */
export const MISSING_OUTPUT =
  'Error: this tool call has no result (the turn that made it was cancelled, failed or interrupted).'

/**
 * Makes history replayable: every function_call is followed (after its block of calls) by
 * exactly one function_call_output. A call without an output gets a synthesized error output;
 * an output without a preceding call, or a second output for the same call, is dropped.
 * Providers reject both shapes (Chat Completions requires a tool message for every tool call).
 */
export function sanitizeContext(items: readonly ItemBody[]): ItemBody[] {
  const answered = new Set<string>()
  const calledAt = new Map<string, number>()
  items.forEach((item, index) => {
    if (item.type === 'function_call' && !calledAt.has(item.call_id)) calledAt.set(item.call_id, index)
  })
  items.forEach((item, index) => {
    if (item.type !== 'function_call_output') return
    const at = calledAt.get(item.call_id)
    if (at !== undefined && at < index) answered.add(item.call_id)
  })

  const out: ItemBody[] = []
  const seenCalls = new Set<string>()
  const seenOutputs = new Set<string>()
  /** Calls of the current block that need a synthesized output once the block ends. */
  let unanswered: string[] = []
  const closeBlock = () => {
    for (const callId of unanswered) out.push(missingOutput(callId))
    unanswered = []
  }

  for (const item of items) {
    if (item.type === 'function_call') {
      if (seenCalls.has(item.call_id)) continue
      seenCalls.add(item.call_id)
      out.push(item)
      if (!answered.has(item.call_id)) unanswered.push(item.call_id)
      continue
    }
    if (item.type === 'function_call_output') {
      if (!seenCalls.has(item.call_id) || seenOutputs.has(item.call_id)) continue
      seenOutputs.add(item.call_id)
      out.push(item)
      continue
    }
    closeBlock()
    out.push(item)
  }
  closeBlock()
  return out
}

function missingOutput(callId: string): ItemBody {
  return {
    type: 'function_call_output',
    call_id: callId,
    output: MISSING_OUTPUT,
    status: 'completed',
    is_error: true,
  }
}

export interface ContextEntry {
  body: ItemBody
  turnId: string
  tokenCount: number
}

export interface FitResult {
  items: ItemBody[]
  /** True when something was dropped. */
  truncated: boolean
  tokens: number
}

/** Instructions-like items survive truncation: they set the rules for everything after them. */
function isInstruction(item: ItemBody): boolean {
  return item.type === 'message' && (item.role === 'system' || item.role === 'developer')
}

/**
 * Fits a context into `budget` tokens by dropping whole turns, oldest first. The current turn
 * (`currentTurnId`) and every system/developer message are always kept; when even that does not
 * fit, it is returned as is and the provider's own limit decides. Call `sanitizeContext` on the
 * result: dropping a turn can orphan a tool output in the turn after it.
 */
export function fitContext(
  entries: readonly ContextEntry[],
  currentTurnId: string,
  budget: number,
): FitResult {
  const total = entries.reduce((sum, entry) => sum + entry.tokenCount, 0)
  if (total <= budget) return { items: entries.map((entry) => entry.body), truncated: false, tokens: total }

  const turnOrder: string[] = []
  const turnTokens = new Map<string, number>()
  for (const entry of entries) {
    if (entry.turnId === currentTurnId || isInstruction(entry.body)) continue
    if (!turnTokens.has(entry.turnId)) turnOrder.push(entry.turnId)
    turnTokens.set(entry.turnId, (turnTokens.get(entry.turnId) ?? 0) + entry.tokenCount)
  }

  const dropped = new Set<string>()
  let tokens = total
  for (const turnId of turnOrder) {
    if (tokens <= budget) break
    dropped.add(turnId)
    tokens -= turnTokens.get(turnId) ?? 0
  }
  const kept = entries.filter(
    (entry) => entry.turnId === currentTurnId || isInstruction(entry.body) || !dropped.has(entry.turnId),
  )
  return { items: kept.map((entry) => entry.body), truncated: dropped.size > 0, tokens }
}

/** Tokens kept free for the reply when the turn sets no `maxOutputTokens`. */
export function outputReserve(contextWindow: number, maxOutputTokens: number | null): number {
  return maxOutputTokens ?? Math.min(4096, Math.floor(contextWindow / 4))
}
