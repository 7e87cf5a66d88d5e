import {
  type ItemBody,
  type Provider,
  type ProviderCapabilities,
  type ProviderEvent,
  type ProviderRequest,
  UpstreamError,
} from '@parley/core'
import { NotFoundError } from 'openai'
import type {
  Response,
  ResponseCreateParamsBase,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses'
import { type StreamPhase, upstreamErrorFromCode } from '../errors.ts'
import { contextWindowOf } from '../models.ts'
import { retryBeforeFirstEvent } from '../retry.ts'
import {
  AttemptControl,
  type OpenAIAdapterOptions,
  type ResolvedOpenAIOptions,
  resolveOpenAIOptions,
} from './attempt.ts'
import {
  finishReasonOfResponse,
  itemsToResponsesInput,
  reasoningItemFromResponses,
  toolChoiceToResponses,
  toolsToResponses,
  usageFromResponses,
} from './responses-mapping.ts'

export interface OpenAIResponsesOptions extends OpenAIAdapterOptions {
  /**
   * Keep state upstream (`store: true`) and continue from `previous_response_id`, sending only
   * the new input. Off: every request carries the full context and nothing is stored upstream.
   * Default true.
   */
  nativeState?: boolean
  /** Use streaming (default true); off, one JSON response is turned into the same events. */
  stream?: boolean
}

export const OPENAI_DEFAULT_MODEL = 'gpt-4.1-mini'

export class OpenAIResponsesProvider implements Provider {
  readonly name = 'openai-responses'
  readonly defaultModel: string
  readonly capabilities: ProviderCapabilities
  readonly #options: ResolvedOpenAIOptions
  readonly #streaming: boolean

  constructor(options: OpenAIResponsesOptions = {}) {
    this.#options = resolveOpenAIOptions(options, OPENAI_DEFAULT_MODEL)
    this.defaultModel = this.#options.model
    this.#streaming = options.stream ?? true
    this.capabilities = { nativeState: options.nativeState ?? true, tools: true, streaming: this.#streaming }
  }

  contextWindow(model: string): number | null {
    return contextWindowOf(model)
  }

  stream(request: ProviderRequest): AsyncIterable<ProviderEvent> {
    // Cleared once the upstream says it lost the previous response: from then on, full context.
    let continuation = this.capabilities.nativeState ? request.continuation : undefined
    return retryBeforeFirstEvent(() => this.#attempt(request, continuation), {
      signal: request.signal,
      policy: this.#options.retry,
      recover: (error) => {
        if (continuation === undefined || error.reason !== 'previous_response_not_found') return false
        continuation = undefined
        return true
      },
    })
  }

  #body(request: ProviderRequest, continuation: ProviderRequest['continuation']): ResponseCreateParamsBase {
    const input: ItemBody[] = continuation ? continuation.newInput : request.input
    const body: ResponseCreateParamsBase = {
      model: request.model,
      input: itemsToResponsesInput(input),
      instructions: request.instructions,
      store: this.capabilities.nativeState,
    }
    if (continuation) body.previous_response_id = continuation.previousResponseId
    if (request.tools.length > 0) {
      body.tools = toolsToResponses(request.tools)
      body.tool_choice = toolChoiceToResponses(request.toolChoice)
      body.parallel_tool_calls = request.parallelToolCalls
    }
    if (request.temperature !== null) body.temperature = request.temperature
    if (request.topP !== null) body.top_p = request.topP
    if (request.maxOutputTokens !== null) body.max_output_tokens = request.maxOutputTokens
    return body
  }

  async *#attempt(
    request: ProviderRequest,
    continuation: ProviderRequest['continuation'],
  ): AsyncGenerator<ProviderEvent> {
    const control = new AttemptControl(request.signal, this.#options.idleTimeoutMs)
    const body = this.#body(request, continuation)
    const client = this.#options.client
    let yielded = false
    try {
      if (!this.#streaming) {
        let response: Response
        try {
          response = await client.responses.create({ ...body, stream: false }, { signal: control.signal })
        } catch (error) {
          throw notFoundIfContinuing(error, control.failure(error, 'before_first_event'), continuation)
        }
        yield* eventsOfResponse(response)
        return
      }

      let stream: AsyncIterable<ResponseStreamEvent>
      try {
        stream = await client.responses.create({ ...body, stream: true }, { signal: control.signal })
      } catch (error) {
        throw notFoundIfContinuing(error, control.failure(error, 'before_first_event'), continuation)
      }
      const translator = new ResponsesStreamTranslator()
      try {
        for await (const event of stream) {
          control.touch()
          for (const out of translator.push(event)) {
            yielded = true
            yield out
          }
          if (translator.finished) break
        }
      } catch (error) {
        throw control.failure(error, yielded ? 'after_first_event' : 'before_first_event')
      }
      if (!translator.finished) {
        // Either our signal fired (the SDK then ends quietly) or the upstream hung up early.
        throw control.failure(
          new UpstreamError(
            yielded ? 'stream_broken' : 'upstream_unavailable',
            'The upstream stream ended before the response completed',
          ),
          yielded ? 'after_first_event' : 'before_first_event',
        )
      }
    } finally {
      control.dispose()
    }
  }
}

/** A 404 while continuing means the upstream lost (or never had) the previous response. */
function notFoundIfContinuing(
  error: unknown,
  normalized: Error,
  continuation: ProviderRequest['continuation'],
): Error {
  if (continuation !== undefined && error instanceof NotFoundError && normalized instanceof UpstreamError) {
    return new UpstreamError(
      'previous_response_not_found',
      'The upstream does not know the previous response',
    )
  }
  return normalized
}

function* eventsOfResponse(response: Response): Generator<ProviderEvent> {
  if (response.status === 'failed') {
    throw new UpstreamError('upstream_unavailable', 'The upstream failed to produce a response')
  }
  yield { type: 'started', upstreamResponseId: response.id }
  for (const item of response.output) {
    if (item.type === 'message') {
      for (const part of item.content) {
        const text = part.type === 'output_text' ? part.text : part.refusal
        if (text) yield { type: 'text.delta', delta: text }
      }
    } else if (item.type === 'function_call') {
      yield { type: 'tool_call', callId: item.call_id, name: item.name, arguments: item.arguments }
    } else if (item.type === 'reasoning') {
      yield { type: 'reasoning', item: reasoningItemFromResponses(item) }
    }
  }
  if (response.usage) yield { type: 'usage', usage: usageFromResponses(response.usage) }
  yield { type: 'done', upstreamResponseId: response.id, finishReason: finishReasonOfResponse(response) }
}

/**
 * Upstream stream events → provider events. `started` is held back until something the caller
 * can see arrives, so that a connection lost right after `response.created` is still retried.
 */
export class ResponsesStreamTranslator {
  finished = false
  #responseId: string | null = null
  #startedSent = false
  /** Argument deltas by item id, for upstreams whose `output_item.done` omits the arguments. */
  readonly #arguments = new Map<string, string>()

  push(event: ResponseStreamEvent): ProviderEvent[] {
    const out: ProviderEvent[] = []
    switch (event.type) {
      case 'response.created':
      case 'response.in_progress':
        this.#responseId = event.response.id
        return out
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        if (event.delta) {
          this.#started(out)
          out.push({ type: 'text.delta', delta: event.delta })
        }
        return out
      case 'response.function_call_arguments.delta':
        this.#arguments.set(event.item_id, (this.#arguments.get(event.item_id) ?? '') + event.delta)
        return out
      case 'response.output_item.done': {
        const item = event.item
        if (item.type === 'function_call') {
          this.#started(out)
          const args = item.arguments || (item.id ? this.#arguments.get(item.id) : undefined) || ''
          out.push({ type: 'tool_call', callId: item.call_id, name: item.name, arguments: args })
        } else if (item.type === 'reasoning') {
          this.#started(out)
          out.push({ type: 'reasoning', item: reasoningItemFromResponses(item) })
        }
        return out
      }
      case 'response.completed':
      case 'response.incomplete': {
        const response = event.response
        this.#responseId = response.id
        this.#started(out)
        if (response.usage) out.push({ type: 'usage', usage: usageFromResponses(response.usage) })
        out.push({
          type: 'done',
          upstreamResponseId: response.id,
          finishReason: finishReasonOfResponse(response),
        })
        this.finished = true
        return out
      }
      case 'response.failed': {
        throw upstreamErrorFromCode(event.response.error?.code, this.#phase())
      }
      case 'error':
        throw upstreamErrorFromCode(event.code, this.#phase())
      default:
        return out
    }
  }

  #phase(): StreamPhase {
    return this.#startedSent ? 'after_first_event' : 'before_first_event'
  }

  #started(out: ProviderEvent[]): void {
    if (this.#startedSent) return
    this.#startedSent = true
    out.push({ type: 'started', upstreamResponseId: this.#responseId })
  }
}
