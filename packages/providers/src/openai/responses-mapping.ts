import type { ItemBody, ProviderTool, ReasoningItemBody, ToolChoice, Usage } from '@parley/core'
import type {
  FunctionTool,
  Response,
  ResponseInputContent,
  ResponseInputItem,
  ResponseOutputItem,
  ResponseUsage,
  ToolChoiceFunction,
  ToolChoiceOptions,
} from 'openai/resources/responses/responses'

/**
 * Items ↔ Responses API shapes. Our items are already Responses-shaped, so this is mostly a
 * matter of dropping Parley's extensions and the fields the API insists on owning.
 */

export function itemsToResponsesInput(items: ItemBody[]): ResponseInputItem[] {
  const input: ResponseInputItem[] = []
  for (const item of items) {
    const mapped = itemToResponsesInput(item)
    if (mapped) input.push(mapped)
  }
  return input
}

function itemToResponsesInput(item: ItemBody): ResponseInputItem | null {
  switch (item.type) {
    case 'message': {
      if (item.role === 'assistant') {
        // Output messages need an upstream id to be replayed as such; the easy form needs none.
        const text = item.content
          .map((part) =>
            part.type === 'output_text' || part.type === 'input_text'
              ? part.text
              : part.type === 'refusal'
                ? part.refusal
                : '',
          )
          .join('')
        return { type: 'message', role: 'assistant', content: text }
      }
      const content: ResponseInputContent[] = item.content.map((part): ResponseInputContent => {
        if (part.type === 'input_image') {
          return { type: 'input_image', image_url: part.image_url, detail: part.detail }
        }
        return { type: 'input_text', text: part.type === 'refusal' ? part.refusal : part.text }
      })
      return { type: 'message', role: item.role, content }
    }
    case 'function_call':
      return { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments }
    case 'function_call_output':
      return { type: 'function_call_output', call_id: item.call_id, output: item.output }
    case 'reasoning':
      // The API only accepts reasoning items by their upstream id, which a stored item does not
      // carry; with native state the upstream still has them, without it they are optional.
      return null
  }
}

export function toolsToResponses(tools: ProviderTool[]): FunctionTool[] {
  return tools.map((tool) => ({
    type: 'function',
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
    strict: tool.strict,
  }))
}

export function toolChoiceToResponses(choice: ToolChoice): ToolChoiceOptions | ToolChoiceFunction {
  return typeof choice === 'string' ? choice : { type: 'function', name: choice.name }
}

export function usageFromResponses(usage: ResponseUsage): Usage {
  return {
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens,
    totalTokens: usage.total_tokens,
    cachedInputTokens: usage.input_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: usage.output_tokens_details?.reasoning_tokens ?? 0,
    estimated: false,
  }
}

export function reasoningItemFromResponses(item: {
  summary?: { text: string }[] | null
  encrypted_content?: string | null
}): ReasoningItemBody {
  return {
    type: 'reasoning',
    summary: (item.summary ?? []).map((part) => ({ type: 'summary_text', text: part.text })),
    encrypted_content: item.encrypted_content ?? null,
  }
}

/** The items a finished upstream response stands for (what the orchestrator would store). */
export function responsesOutputToItems(output: ResponseOutputItem[]): ItemBody[] {
  const items: ItemBody[] = []
  for (const item of output) {
    if (item.type === 'message') {
      const content = item.content.map((part) =>
        part.type === 'output_text'
          ? { type: 'output_text' as const, text: part.text, annotations: [] }
          : { type: 'refusal' as const, refusal: part.refusal },
      )
      if (content.length > 0) items.push({ type: 'message', role: 'assistant', status: 'completed', content })
    } else if (item.type === 'function_call') {
      items.push({
        type: 'function_call',
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
        status: 'completed',
      })
    } else if (item.type === 'reasoning') {
      items.push(reasoningItemFromResponses(item))
    }
  }
  return items
}

export type FinishReason = 'stop' | 'tool_calls' | 'length' | 'content_filter'

export function finishReasonOfResponse(response: Response): FinishReason {
  if (response.status === 'incomplete') {
    return response.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length'
  }
  return response.output.some((item) => item.type === 'function_call') ? 'tool_calls' : 'stop'
}
