import {
  type ItemBody,
  type Provider,
  type ProviderCapabilities,
  type ProviderEvent,
  type ProviderRequest,
  UpstreamError,
  type UpstreamReason,
  type Usage,
} from '@parley/core'
import { abortErrorOf } from '../errors.ts'
import { sleep } from '../retry.ts'

/** One function call the scripted model makes. `arguments` objects are JSON-encoded. */
export interface ScriptedToolCall {
  name: string
  arguments?: string | Record<string, unknown>
  /** Default: `call_<n>_<i>`, unique per model instance. */
  callId?: string
}

/**
 * What the model does for one provider call. Text is streamed in `chunks` (or `text` split into
 * words), then tool calls, then usage and `done`.
 */
export interface ScriptedStep {
  text?: string
  /** Exact chunks; wins over `text`. */
  chunks?: string[]
  toolCalls?: ScriptedToolCall[]
  /** A reasoning summary emitted before the text. */
  reasoning?: string
  /** Delay before each chunk; default: the model's `delayMs`. */
  delayMs?: number
  /** Thrown before the first event (an UpstreamError reason, or any error). */
  error?: UpstreamReason | Error
  /** Break the stream with `stream_broken` after this many text chunks. */
  breakAfterChunks?: number
  /** Default: estimated from word counts. */
  usage?: Partial<Usage>
  finishReason?: 'stop' | 'tool_calls' | 'length' | 'content_filter'
}

export type StepSource =
  | ScriptedStep[]
  | ((request: ProviderRequest, callIndex: number) => ScriptedStep | Promise<ScriptedStep>)

export interface ScriptedModelOptions {
  /** A queue of steps (one per provider call) or a function of the request. */
  steps: StepSource
  name?: string
  defaultModel?: string
  /** Default per-chunk delay (default 0). */
  delayMs?: number
  capabilities?: Partial<ProviderCapabilities>
  contextWindow?: number | null
  /** How many recent requests `requests` keeps (default: all; a long-running server should cap it). */
  keepRequests?: number
}

export function textStep(text: string, extra?: Omit<ScriptedStep, 'text'>): ScriptedStep {
  return { ...extra, text }
}

export function toolCallStep(
  name: string,
  args: string | Record<string, unknown> = {},
  extra?: Omit<ScriptedStep, 'toolCalls'> & { callId?: string },
): ScriptedStep {
  const { callId, ...rest } = extra ?? {}
  return {
    ...rest,
    toolCalls: [callId === undefined ? { name, arguments: args } : { name, arguments: args, callId }],
  }
}

export function errorStep(error: UpstreamReason | Error): ScriptedStep {
  return { error }
}

/** A request as recorded: everything but the signal, copied so later mutation cannot change it. */
export type RecordedRequest = Omit<ProviderRequest, 'signal'>

/**
 * A deterministic, offline Provider. Tests script it step by step and read back every request it
 * received; the `scripted` provider is one with the demo behaviour.
 */
export class ScriptedModel implements Provider {
  readonly name: string
  readonly defaultModel: string
  readonly capabilities: ProviderCapabilities
  readonly requests: RecordedRequest[] = []
  readonly #source: StepSource
  readonly #delayMs: number
  readonly #contextWindow: number | null
  readonly #keepRequests: number
  #queueIndex = 0
  #calls = 0

  constructor(options: ScriptedModelOptions) {
    this.name = options.name ?? 'scripted'
    this.defaultModel = options.defaultModel ?? 'parley-demo'
    this.capabilities = { nativeState: false, tools: true, streaming: true, ...options.capabilities }
    this.#source = options.steps
    this.#delayMs = options.delayMs ?? 0
    this.#contextWindow = options.contextWindow === undefined ? 128_000 : options.contextWindow
    this.#keepRequests = options.keepRequests ?? Number.POSITIVE_INFINITY
  }

  /** How many provider calls were made. */
  get callCount(): number {
    return this.#calls
  }

  get lastRequest(): RecordedRequest | undefined {
    return this.requests.at(-1)
  }

  /** Steps of a queue not consumed yet (0 for a function source). */
  get remainingSteps(): number {
    return Array.isArray(this.#source) ? this.#source.length - this.#queueIndex : 0
  }

  contextWindow(_model: string): number | null {
    return this.#contextWindow
  }

  stream(request: ProviderRequest): AsyncIterable<ProviderEvent> {
    const callIndex = this.#calls
    this.#calls += 1
    const { signal: _signal, ...rest } = request
    this.requests.push(structuredClone(rest))
    if (this.requests.length > this.#keepRequests) this.requests.shift()
    return this.#run(request, callIndex)
  }

  async #nextStep(request: ProviderRequest, callIndex: number): Promise<ScriptedStep> {
    if (typeof this.#source === 'function') return this.#source(request, callIndex)
    const step = this.#source[this.#queueIndex]
    if (!step) {
      throw new UpstreamError(
        'upstream_bad_request',
        `ScriptedModel has no step left for call ${callIndex + 1}`,
      )
    }
    this.#queueIndex += 1
    return step
  }

  async *#run(request: ProviderRequest, callIndex: number): AsyncGenerator<ProviderEvent> {
    const { signal } = request
    if (signal.aborted) throw abortErrorOf(signal)
    const step = await this.#nextStep(request, callIndex)
    if (step.error !== undefined) {
      throw typeof step.error === 'string'
        ? new UpstreamError(step.error, `Scripted failure: ${step.error}`)
        : step.error
    }
    const delayMs = step.delayMs ?? this.#delayMs
    const pause = async () => {
      if (delayMs > 0) await sleep(delayMs, signal)
      else if (signal.aborted) throw abortErrorOf(signal)
    }

    yield { type: 'started', upstreamResponseId: null }
    if (step.reasoning) {
      await pause()
      yield {
        type: 'reasoning',
        item: {
          type: 'reasoning',
          summary: [{ type: 'summary_text', text: step.reasoning }],
          encrypted_content: null,
        },
      }
    }
    const chunks = step.chunks ?? (step.text ? splitIntoChunks(step.text) : [])
    let sent = 0
    for (const chunk of chunks) {
      if (sent === step.breakAfterChunks) break
      await pause()
      yield { type: 'text.delta', delta: chunk }
      sent += 1
    }
    if (step.breakAfterChunks !== undefined) {
      throw new UpstreamError('stream_broken', 'The scripted stream broke off')
    }
    const calls = step.toolCalls ?? []
    for (const [i, call] of calls.entries()) {
      await pause()
      const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {})
      yield {
        type: 'tool_call',
        callId: call.callId ?? `call_${callIndex + 1}_${i + 1}`,
        name: call.name,
        arguments: args,
      }
    }
    const outputText = chunks.join('') + calls.map((call) => call.name).join(' ')
    yield { type: 'usage', usage: estimateUsage(request.instructions, request.input, outputText, step.usage) }
    yield {
      type: 'done',
      upstreamResponseId: null,
      finishReason: step.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop'),
    }
  }
}

/** Word-sized chunks that join back to the exact text (whitespace stays with the next word). */
export function splitIntoChunks(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? (text ? [text] : [])
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length
}

function itemText(item: ItemBody): string {
  switch (item.type) {
    case 'message':
      return item.content
        .map((part) => ('text' in part ? part.text : 'refusal' in part ? part.refusal : ''))
        .join(' ')
    case 'function_call':
      return `${item.name} ${item.arguments}`
    case 'function_call_output':
      return item.output
    case 'reasoning':
      return item.summary.map((part) => part.text).join(' ')
  }
}

/** Words ≈ tokens: good enough for a demo model's usage rows. */
function estimateUsage(
  instructions: string | null,
  input: ItemBody[],
  output: string,
  override: Partial<Usage> | undefined,
): Usage {
  const inputTokens =
    override?.inputTokens ??
    countWords(instructions ?? '') + input.reduce((sum, item) => sum + countWords(itemText(item)), 0)
  const outputTokens = override?.outputTokens ?? countWords(output)
  return {
    inputTokens,
    outputTokens,
    totalTokens: override?.totalTokens ?? inputTokens + outputTokens,
    cachedInputTokens: override?.cachedInputTokens ?? 0,
    reasoningTokens: override?.reasoningTokens ?? 0,
    estimated: override?.estimated ?? true,
  }
}
