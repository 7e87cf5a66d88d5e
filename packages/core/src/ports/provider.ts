import type { ItemBody, ReasoningItemBody } from '../contracts/items.ts'
import type { ToolChoice } from '../contracts/turn.ts'
import type { Usage } from '../contracts/usage.ts'

/**
 * The provider port: a model turns (context, tools, settings, abort signal) into a stream of
 * normalized events. Adapters live in `packages/providers`; core never imports an SDK.
 *
 * Errors: an adapter throws `UpstreamError` (from `../errors.ts`) with a normalized reason,
 * either before the first event (retryable ones are retried by the adapter with backoff) or
 * from the middle of the stream (`stream_broken`, …). An aborted signal ends the stream by
 * throwing the signal's reason (an `AbortError`); the orchestrator decides what that means.
 */

export interface ProviderCapabilities {
  /** Can continue from its own previous response id (`previous_response_id` upstream). */
  nativeState: boolean
  tools: boolean
  streaming: boolean
}

/** A tool as offered to the model: JSON Schema parameters. */
export interface ProviderTool {
  name: string
  description: string
  parameters: Record<string, unknown>
  strict: boolean
}

export interface ProviderRequest {
  model: string
  instructions: string | null
  /** The full context, oldest first: ancestors' items, this turn's input, and its output so far. */
  input: ItemBody[]
  /**
   * When the provider has native state and the previous turn's upstream response id is known:
   * send only `newInput` with `previousResponseId`. If the upstream says that response is
   * unknown, the adapter falls back to the full `input` (it does not fail the turn).
   */
  continuation?: { previousResponseId: string; newInput: ItemBody[] }
  tools: ProviderTool[]
  toolChoice: ToolChoice
  parallelToolCalls: boolean
  temperature: number | null
  topP: number | null
  maxOutputTokens: number | null
  signal: AbortSignal
}

export type ProviderEvent =
  /** The upstream accepted the request (id known when the upstream has one). */
  | { type: 'started'; upstreamResponseId: string | null }
  | { type: 'text.delta'; delta: string }
  /** A complete function call (argument deltas are assembled by the adapter). */
  | { type: 'tool_call'; callId: string; name: string; arguments: string }
  | { type: 'reasoning'; item: ReasoningItemBody }
  | { type: 'usage'; usage: Usage }
  /** The upstream finished this step. */
  | {
      type: 'done'
      upstreamResponseId: string | null
      /** `length` when max output tokens cut the reply. */
      finishReason: 'stop' | 'tool_calls' | 'length' | 'content_filter'
    }

export interface Provider {
  /** `scripted`, `openai-responses`, `openai-chat`. */
  readonly name: string
  readonly defaultModel: string
  readonly capabilities: ProviderCapabilities
  /** Context window of a model in tokens (for truncation); null when unknown. */
  contextWindow(model: string): number | null
  stream(request: ProviderRequest): AsyncIterable<ProviderEvent>
}

export type { ItemBody }
