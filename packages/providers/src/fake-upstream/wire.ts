import { randomBytes } from 'node:crypto'
import type { UpstreamScript, UpstreamToolCall } from './script.ts'

/**
 * The exact wire shapes of the OpenAI Responses and Chat Completions APIs, as the openai SDK
 * parses them. A reply is planned as a list of frames; `delta` frames are the ones that delays
 * and "after N deltas" faults count.
 */
export interface Frame {
  text: string
  delta: boolean
}

export function newId(prefix: string, bytes = 24): string {
  return `${prefix}${randomBytes(bytes).toString('hex')}`
}

const LOREM =
  'Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua Ut enim ad minim veniam quis nostrud exercitation'.split(
    ' ',
  )

/** `tokens` deterministic words, each its own delta. */
export function defaultDeltas(tokens: number): string[] {
  const deltas: string[] = []
  for (let i = 0; i < tokens; i += 1) {
    const word = LOREM[i % LOREM.length] ?? 'lorem'
    deltas.push(i === 0 ? word : ` ${word}`)
  }
  return deltas
}

export function splitWords(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? (text ? [text] : [])
}

function splitInto(text: string, parts: number): string[] {
  if (text.length === 0) return []
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, parts)))
  const chunks: string[] = []
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size))
  return chunks
}

export interface PlannedCall {
  callId: string
  name: string
  arguments: string
  chunks: string[]
}

export interface ReplyPlan {
  deltas: string[]
  text: string
  calls: PlannedCall[]
  reasoning: string | null
  inputTokens: number
  outputTokens: number
  cachedTokens: number
  reasoningTokens: number
  truncated: boolean
}

export function planReply(script: UpstreamScript, defaultTokens: number, requestBody: unknown): ReplyPlan {
  const calls = (script.toolCalls ?? []).map(planCall)
  const deltas =
    script.deltas ??
    (script.text !== undefined
      ? splitWords(script.text)
      : calls.length > 0
        ? []
        : defaultDeltas(defaultTokens))
  const text = deltas.join('')
  const argumentTokens = calls.reduce((sum, call) => sum + call.chunks.length, 0)
  return {
    deltas,
    text,
    calls,
    reasoning: script.reasoning ?? null,
    inputTokens:
      script.usage?.inputTokens ?? Math.max(1, Math.ceil(JSON.stringify(requestBody ?? '').length / 4)),
    outputTokens: script.usage?.outputTokens ?? deltas.length + argumentTokens,
    cachedTokens: script.usage?.cachedTokens ?? 0,
    reasoningTokens: script.usage?.reasoningTokens ?? 0,
    truncated: script.truncated ?? false,
  }
}

function planCall(call: UpstreamToolCall): PlannedCall {
  const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {})
  return {
    callId: call.callId ?? newId('call_', 12),
    name: call.name,
    arguments: args,
    chunks: splitInto(args, call.argumentChunks ?? 3),
  }
}

export function openAIErrorBody(
  message: string,
  type: string,
  param: string | null,
  code: string | null,
): string {
  return JSON.stringify({ error: { message, type, param, code } })
}

// ---------------------------------------------------------------- Responses API

type Json = Record<string, unknown>

export interface ResponsesContext {
  id: string
  createdAt: number
  body: Json
}

function usageObject(plan: ReplyPlan): Json {
  return {
    input_tokens: plan.inputTokens,
    input_tokens_details: { cached_tokens: plan.cachedTokens },
    output_tokens: plan.outputTokens,
    output_tokens_details: { reasoning_tokens: plan.reasoningTokens },
    total_tokens: plan.inputTokens + plan.outputTokens,
  }
}

/** Every field of the Response object, as the API returns it (null where not applicable). */
export function responseObject(
  ctx: ResponsesContext,
  status: 'in_progress' | 'completed' | 'incomplete',
  output: Json[],
  plan: ReplyPlan | null,
): Json {
  const body = ctx.body
  const finished = status !== 'in_progress'
  return {
    id: ctx.id,
    object: 'response',
    created_at: ctx.createdAt,
    status,
    background: false,
    completed_at: finished ? Math.floor(Date.now() / 1000) : null,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: body['instructions'] ?? null,
    max_output_tokens: body['max_output_tokens'] ?? null,
    max_tool_calls: null,
    model: body['model'] ?? null,
    output,
    parallel_tool_calls: body['parallel_tool_calls'] ?? true,
    previous_response_id: body['previous_response_id'] ?? null,
    prompt_cache_key: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: 'default',
    store: body['store'] ?? true,
    temperature: body['temperature'] ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body['tool_choice'] ?? 'auto',
    tools: Array.isArray(body['tools'])
      ? (body['tools'] as Json[]).map((tool) => ({ strict: true, ...tool }))
      : [],
    top_logprobs: 0,
    top_p: body['top_p'] ?? 1,
    truncation: 'disabled',
    usage: finished && plan ? usageObject(plan) : null,
    user: null,
    metadata: body['metadata'] ?? {},
  }
}

interface PlannedItem {
  added: Json
  done: Json
}

function outputItems(plan: ReplyPlan): { items: PlannedItem[]; messageId: string | null } {
  const items: PlannedItem[] = []
  if (plan.reasoning !== null) {
    const id = newId('rs_')
    items.push({
      added: { id, type: 'reasoning', summary: [] },
      done: { id, type: 'reasoning', summary: [{ type: 'summary_text', text: plan.reasoning }] },
    })
  }
  let messageId: string | null = null
  if (plan.deltas.length > 0 || plan.calls.length === 0) {
    messageId = newId('msg_')
    items.push({
      added: { id: messageId, type: 'message', status: 'in_progress', content: [], role: 'assistant' },
      done: {
        id: messageId,
        type: 'message',
        status: plan.truncated ? 'incomplete' : 'completed',
        content: [{ type: 'output_text', annotations: [], logprobs: [], text: plan.text }],
        role: 'assistant',
      },
    })
  }
  for (const call of plan.calls) {
    const id = newId('fc_')
    const base = { id, type: 'function_call', call_id: call.callId, name: call.name }
    items.push({
      added: { ...base, status: 'in_progress', arguments: '' },
      done: { ...base, status: 'completed', arguments: call.arguments },
    })
  }
  return { items, messageId }
}

/** The final output array (what `response.completed` and stored responses carry). */
export function responsesOutput(plan: ReplyPlan): Json[] {
  return outputItems(plan).items.map((item) => item.done)
}

export function responsesFrames(ctx: ResponsesContext, plan: ReplyPlan): { frames: Frame[]; final: Json } {
  const frames: Frame[] = []
  let sequence = 0
  const emit = (type: string, fields: Json, delta = false) => {
    const event = { type, sequence_number: sequence, ...fields }
    sequence += 1
    frames.push({ text: `event: ${type}\ndata: ${JSON.stringify(event)}\n\n`, delta })
  }

  emit('response.created', { response: responseObject(ctx, 'in_progress', [], null) })
  emit('response.in_progress', { response: responseObject(ctx, 'in_progress', [], null) })

  const { items } = outputItems(plan)
  let callIndex = 0
  items.forEach((item, outputIndex) => {
    emit('response.output_item.added', { output_index: outputIndex, item: item.added })
    const id = item.added['id'] as string
    if (item.added['type'] === 'message') {
      const part = { type: 'output_text', annotations: [], logprobs: [], text: '' }
      emit('response.content_part.added', { item_id: id, output_index: outputIndex, content_index: 0, part })
      for (const delta of plan.deltas) {
        emit(
          'response.output_text.delta',
          { item_id: id, output_index: outputIndex, content_index: 0, delta, logprobs: [] },
          true,
        )
      }
      emit('response.output_text.done', {
        item_id: id,
        output_index: outputIndex,
        content_index: 0,
        text: plan.text,
        logprobs: [],
      })
      emit('response.content_part.done', {
        item_id: id,
        output_index: outputIndex,
        content_index: 0,
        part: { ...part, text: plan.text },
      })
    } else if (item.added['type'] === 'function_call') {
      const call = plan.calls[callIndex]
      callIndex += 1
      if (call) {
        for (const delta of call.chunks) {
          emit(
            'response.function_call_arguments.delta',
            { item_id: id, output_index: outputIndex, delta },
            true,
          )
        }
        emit('response.function_call_arguments.done', {
          item_id: id,
          output_index: outputIndex,
          name: call.name,
          arguments: call.arguments,
        })
      }
    }
    emit('response.output_item.done', { output_index: outputIndex, item: item.done })
  })

  const final = responseObject(
    ctx,
    plan.truncated ? 'incomplete' : 'completed',
    items.map((item) => item.done),
    plan,
  )
  emit(plan.truncated ? 'response.incomplete' : 'response.completed', { response: final })
  return { frames, final }
}

// ---------------------------------------------------------------- Chat Completions

export interface ChatContext {
  id: string
  created: number
  model: string
  includeUsage: boolean
}

function chatUsage(plan: ReplyPlan): Json {
  return {
    prompt_tokens: plan.inputTokens,
    completion_tokens: plan.outputTokens,
    total_tokens: plan.inputTokens + plan.outputTokens,
    prompt_tokens_details: { cached_tokens: plan.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: plan.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
}

function chatFinishReason(plan: ReplyPlan): string {
  if (plan.truncated) return 'length'
  return plan.calls.length > 0 ? 'tool_calls' : 'stop'
}

export function chatFrames(ctx: ChatContext, plan: ReplyPlan): Frame[] {
  const frames: Frame[] = []
  const chunk = (choices: Json[], usage?: Json | null): Json => {
    const base: Json = {
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      service_tier: 'default',
      system_fingerprint: 'fp_parley_fake',
      choices,
    }
    if (ctx.includeUsage) base['usage'] = usage ?? null
    return base
  }
  const push = (value: Json, delta = false) =>
    frames.push({ text: `data: ${JSON.stringify(value)}\n\n`, delta })
  const choice = (delta: Json, finishReason: string | null = null): Json => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finishReason,
  })

  push(chunk([choice({ role: 'assistant', content: plan.deltas.length > 0 ? '' : null, refusal: null })]))
  for (const delta of plan.deltas) push(chunk([choice({ content: delta })]), true)
  plan.calls.forEach((call, index) => {
    push(
      chunk([
        choice({
          tool_calls: [
            { index, id: call.callId, type: 'function', function: { name: call.name, arguments: '' } },
          ],
        }),
      ]),
    )
    for (const part of call.chunks) {
      push(chunk([choice({ tool_calls: [{ index, function: { arguments: part } }] })]), true)
    }
  })
  push(chunk([choice({}, chatFinishReason(plan))]))
  if (ctx.includeUsage) push(chunk([], chatUsage(plan)))
  frames.push({ text: 'data: [DONE]\n\n', delta: false })
  return frames
}

export function chatCompletionObject(ctx: ChatContext, plan: ReplyPlan): Json {
  const message: Json = {
    role: 'assistant',
    content: plan.deltas.length > 0 || plan.calls.length === 0 ? plan.text : null,
    refusal: null,
    annotations: [],
  }
  if (plan.calls.length > 0) {
    message['tool_calls'] = plan.calls.map((call) => ({
      id: call.callId,
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }))
  }
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: chatFinishReason(plan) }],
    usage: chatUsage(plan),
    service_tier: 'default',
    system_fingerprint: 'fp_parley_fake',
  }
}
