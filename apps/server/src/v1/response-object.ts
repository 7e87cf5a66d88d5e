import type { EventItem, Item, Turn, Usage } from '@parley/core'
import { toWireOutputItem } from './items.ts'
import type { WireOutputItem, WireResponse, WireResponseStatus, WireUsage } from './wire.ts'

export function unixSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000)
}

export function toWireUsage(usage: Usage): WireUsage {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: 0 },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.totalTokens,
  }
}

/**
 * Turn status → response status. A completed turn whose reply was cut by the token limit is
 * `incomplete` (its last item says so); an interrupted turn (its process died) is `failed`.
 */
export function responseStatus(turn: Turn, output: WireOutputItem[]): WireResponseStatus {
  switch (turn.status) {
    case 'pending':
      return 'queued'
    case 'streaming':
      return 'in_progress'
    case 'completed':
      return output.some((item) => item.status === 'incomplete') ? 'incomplete' : 'completed'
    case 'failed':
    case 'interrupted':
      return 'failed'
    case 'cancelled':
      return 'cancelled'
  }
}

function responseError(turn: Turn): WireResponse['error'] {
  if (turn.status === 'interrupted') {
    return {
      code: 'interrupted',
      message: turn.error?.message ?? 'The server running this response stopped before it finished',
    }
  }
  if (turn.status !== 'failed') return null
  return { code: turn.error?.reason ?? 'server_error', message: turn.error?.message ?? 'The response failed' }
}

/**
 * The response object of a turn: every field of the schema, null where Parley has nothing to
 * say. `previous_response_id` is the turn's parent, however it was chosen (by id or as the
 * conversation's head), and `conversation` is the conversation the turn belongs to.
 */
export function toWireResponse(turn: Turn, items: (Item | EventItem)[]): WireResponse {
  return wireResponse(turn, items.map(toWireOutputItem))
}

/** The response object from output items already in wire form (the stream's, see stream-events.ts). */
export function wireResponse(
  turn: Turn,
  output: WireOutputItem[],
  override?: { status: WireResponseStatus },
): WireResponse {
  const status = override?.status ?? responseStatus(turn, output)
  const settings = turn.settings
  return {
    id: turn.id,
    object: 'response',
    created_at: unixSeconds(turn.createdAt),
    completed_at: turn.completedAt ? unixSeconds(turn.completedAt) : null,
    status,
    error: override ? null : responseError(turn),
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    model: turn.model,
    output,
    usage: turn.usage ? toWireUsage(turn.usage) : null,
    previous_response_id: turn.parentTurnId,
    conversation: { id: turn.conversationId },
    instructions: turn.instructions,
    tools: settings.tools.map((tool) => ({
      type: 'function',
      name: tool.name,
      description: tool.description,
      parameters: tool.parameters,
      strict: tool.strict,
    })),
    tool_choice: settings.toolChoice,
    parallel_tool_calls: settings.parallelToolCalls,
    truncation: turn.truncated ? 'auto' : 'disabled',
    text: { format: { type: 'text' }, verbosity: null },
    reasoning: null,
    temperature: settings.temperature,
    top_p: settings.topP,
    presence_penalty: 0,
    frequency_penalty: 0,
    top_logprobs: 0,
    max_output_tokens: settings.maxOutputTokens,
    max_tool_calls: null,
    metadata: settings.metadata,
    store: settings.store,
    background: false,
    service_tier: 'default',
    user: null,
    safety_identifier: null,
    prompt_cache_key: null,
    prompt_cache_retention: null,
    prompt: null,
  }
}
