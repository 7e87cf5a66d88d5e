import { randomBytes } from 'node:crypto'
import {
  type Provider,
  type ProviderCapabilities,
  type ProviderEvent,
  type ProviderRequest,
  UpstreamError,
} from '@parley/core'
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
} from 'openai/resources/chat/completions/completions'
import { contextWindowOf } from '../models.ts'
import { retryBeforeFirstEvent } from '../retry.ts'
import {
  AttemptControl,
  type OpenAIAdapterOptions,
  type ResolvedOpenAIOptions,
  resolveOpenAIOptions,
} from './attempt.ts'
import {
  type ChatMappingOptions,
  chatMessageToItems,
  finishReasonFromChat,
  itemsToChatMessages,
  toolChoiceToChat,
  toolsToChat,
  usageFromChat,
} from './chat-mapping.ts'
import { OPENAI_DEFAULT_MODEL } from './responses-provider.ts'

export interface OpenAIChatOptions extends OpenAIAdapterOptions {
  /** Use streaming (default true). */
  stream?: boolean
  /**
   * How `developer` messages are sent. Default: `developer` for api.openai.com (no baseURL),
   * `system` for other servers, many of which reject the newer role.
   */
  developerRole?: 'developer' | 'system'
  /**
   * The field that carries maxOutputTokens. OpenAI's reasoning models require
   * `max_completion_tokens`; many compatible servers only know `max_tokens`. Default as above.
   */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens'
}

export class OpenAIChatProvider implements Provider {
  readonly name = 'openai-chat'
  readonly defaultModel: string
  readonly capabilities: ProviderCapabilities
  readonly #options: ResolvedOpenAIOptions
  readonly #streaming: boolean
  readonly #mapping: ChatMappingOptions
  readonly #maxTokensField: 'max_tokens' | 'max_completion_tokens'

  constructor(options: OpenAIChatOptions = {}) {
    this.#options = resolveOpenAIOptions(options, OPENAI_DEFAULT_MODEL)
    this.defaultModel = this.#options.model
    this.#streaming = options.stream ?? true
    this.capabilities = { nativeState: false, tools: true, streaming: this.#streaming }
    const openaiProper =
      options.baseURL === undefined || /^https:\/\/api\.openai\.com\b/.test(options.baseURL)
    this.#mapping = { developerRole: options.developerRole ?? (openaiProper ? 'developer' : 'system') }
    this.#maxTokensField = options.maxTokensField ?? (openaiProper ? 'max_completion_tokens' : 'max_tokens')
  }

  contextWindow(model: string): number | null {
    return contextWindowOf(model)
  }

  stream(request: ProviderRequest): AsyncIterable<ProviderEvent> {
    return retryBeforeFirstEvent(() => this.#attempt(request), {
      signal: request.signal,
      policy: this.#options.retry,
    })
  }

  #body(request: ProviderRequest): ChatCompletionCreateParamsBase {
    const body: ChatCompletionCreateParamsBase = {
      model: request.model,
      messages: itemsToChatMessages(request.instructions, request.input, this.#mapping),
    }
    if (request.tools.length > 0) {
      body.tools = toolsToChat(request.tools)
      body.tool_choice = toolChoiceToChat(request.toolChoice)
      // Only meaningful (and only accepted by OpenAI) when tools are present.
      body.parallel_tool_calls = request.parallelToolCalls
    }
    if (request.temperature !== null) body.temperature = request.temperature
    if (request.topP !== null) body.top_p = request.topP
    if (request.maxOutputTokens !== null) body[this.#maxTokensField] = request.maxOutputTokens
    return body
  }

  async *#attempt(request: ProviderRequest): AsyncGenerator<ProviderEvent> {
    const control = new AttemptControl(request.signal, this.#options.idleTimeoutMs)
    const body = this.#body(request)
    const client = this.#options.client
    let yielded = false
    try {
      if (!this.#streaming) {
        let completion: ChatCompletion
        try {
          completion = await client.chat.completions.create(
            { ...body, stream: false },
            { signal: control.signal },
          )
        } catch (error) {
          throw control.failure(error, 'before_first_event')
        }
        yield* eventsOfCompletion(completion)
        return
      }

      let stream: AsyncIterable<ChatCompletionChunk>
      try {
        stream = await client.chat.completions.create(
          { ...body, stream: true, stream_options: { include_usage: true } },
          { signal: control.signal },
        )
      } catch (error) {
        throw control.failure(error, 'before_first_event')
      }
      const translator = new ChatStreamTranslator()
      try {
        for await (const chunk of stream) {
          control.touch()
          for (const event of translator.push(chunk)) {
            yielded = true
            yield event
          }
        }
      } catch (error) {
        throw control.failure(error, yielded ? 'after_first_event' : 'before_first_event')
      }
      if (control.interrupted || translator.finishReason === null) {
        // Our signal fired (the SDK then ends quietly), or the upstream hung up without finishing.
        throw control.failure(
          new UpstreamError(
            yielded ? 'stream_broken' : 'upstream_unavailable',
            'The upstream stream ended before the reply finished',
          ),
          yielded ? 'after_first_event' : 'before_first_event',
        )
      }
      for (const event of translator.finish()) yield event
    } finally {
      control.dispose()
    }
  }
}

function* eventsOfCompletion(completion: ChatCompletion): Generator<ProviderEvent> {
  const choice = completion.choices[0]
  if (!choice) throw new UpstreamError('upstream_unavailable', 'The upstream returned no choices')
  yield { type: 'started', upstreamResponseId: null }
  for (const item of chatMessageToItems(choice.message)) {
    if (item.type === 'message') {
      for (const part of item.content) {
        if (part.type === 'output_text') yield { type: 'text.delta', delta: part.text }
        else if (part.type === 'refusal') yield { type: 'text.delta', delta: part.refusal }
      }
    } else if (item.type === 'function_call') {
      yield {
        type: 'tool_call',
        callId: item.call_id || newCallId(),
        name: item.name,
        arguments: item.arguments,
      }
    }
  }
  if (completion.usage) yield { type: 'usage', usage: usageFromChat(completion.usage) }
  const hasToolCalls = (choice.message.tool_calls ?? []).length > 0
  yield {
    type: 'done',
    upstreamResponseId: null,
    finishReason: finishReasonFromChat(choice.finish_reason, hasToolCalls),
  }
}

interface PartialToolCall {
  id: string
  name: string
  arguments: string
}

/**
 * Chunks → provider events. Tool calls arrive as fragments keyed by `index` (id and name in the
 * first, argument text spread over the rest) and are emitted whole when the reply finishes.
 * `started` waits for the first visible content so that an early hang-up is still retried.
 */
export class ChatStreamTranslator {
  finishReason: string | null = null
  #startedSent = false
  #usageSent = false
  readonly #calls = new Map<number, PartialToolCall>()

  push(chunk: ChatCompletionChunk): ProviderEvent[] {
    const out: ProviderEvent[] = []
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0) continue
      const delta = choice.delta
      const text = delta?.content ?? delta?.refusal
      if (text) {
        this.#started(out)
        out.push({ type: 'text.delta', delta: text })
      }
      for (const fragment of delta?.tool_calls ?? []) {
        const call = this.#calls.get(fragment.index) ?? { id: '', name: '', arguments: '' }
        if (fragment.id) call.id = fragment.id
        if (fragment.function?.name) call.name += fragment.function.name
        if (fragment.function?.arguments) call.arguments += fragment.function.arguments
        this.#calls.set(fragment.index, call)
      }
      if (choice.finish_reason) this.finishReason = choice.finish_reason
    }
    if (chunk.usage && !this.#usageSent) {
      this.#usageSent = true
      this.#started(out)
      out.push({ type: 'usage', usage: usageFromChat(chunk.usage) })
    }
    return out
  }

  finish(): ProviderEvent[] {
    const out: ProviderEvent[] = []
    this.#started(out)
    const calls = [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call)
    for (const call of calls) {
      if (!call.name) throw new UpstreamError('stream_broken', 'The upstream sent a tool call without a name')
      out.push({
        type: 'tool_call',
        callId: call.id || newCallId(),
        name: call.name,
        arguments: call.arguments,
      })
    }
    out.push({
      type: 'done',
      upstreamResponseId: null,
      finishReason: finishReasonFromChat(this.finishReason, calls.length > 0),
    })
    return out
  }

  #started(out: ProviderEvent[]): void {
    if (this.#startedSent) return
    this.#startedSent = true
    out.push({ type: 'started', upstreamResponseId: null })
  }
}

/** Some compatible servers omit tool call ids; results must still find their call. */
function newCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`
}
