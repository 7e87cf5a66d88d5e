import type { ContentPart, ItemBody, ProviderTool, ToolChoice, Usage } from '@parley/core'
import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionContentPart,
  ChatCompletionFunctionTool,
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions/completions'
import type { CompletionUsage } from 'openai/resources/completions'

/**
 * Items ↔ Chat Completions messages. Chat has no item list: a model reply with tool calls is one
 * assistant message, so consecutive function_call items (and the text right before them) merge
 * into one message, and each function_call_output becomes a `tool` message. Reasoning items have
 * no place in Chat and are dropped.
 */

export interface ChatMappingOptions {
  /** Many OpenAI-compatible servers reject `developer`; they get `system` instead. */
  developerRole: 'developer' | 'system'
}

export function itemsToChatMessages(
  instructions: string | null,
  items: ItemBody[],
  options: ChatMappingOptions = { developerRole: 'developer' },
): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = []
  if (instructions) messages.push({ role: 'system', content: instructions })
  // The assistant message that function calls may still join (the last one pushed, if assistant).
  let openAssistant: ChatCompletionAssistantMessageParam | null = null

  for (const item of items) {
    switch (item.type) {
      case 'message': {
        if (item.role === 'assistant') {
          openAssistant = { role: 'assistant', content: plainText(item.content) }
          messages.push(openAssistant)
        } else if (item.role === 'user') {
          messages.push({ role: 'user', content: userContent(item.content) })
          openAssistant = null
        } else {
          const role = item.role === 'developer' ? options.developerRole : 'system'
          messages.push({ role, content: plainText(item.content) })
          openAssistant = null
        }
        break
      }
      case 'function_call': {
        const call: ChatCompletionMessageToolCall = {
          id: item.call_id,
          type: 'function',
          function: { name: item.name, arguments: item.arguments },
        }
        if (openAssistant === null) {
          openAssistant = { role: 'assistant', content: null }
          messages.push(openAssistant)
        }
        openAssistant.tool_calls = [...(openAssistant.tool_calls ?? []), call]
        break
      }
      case 'function_call_output':
        messages.push({ role: 'tool', tool_call_id: item.call_id, content: item.output })
        openAssistant = null
        break
      case 'reasoning':
        break
    }
  }
  return messages
}

function plainText(parts: ContentPart[]): string {
  return parts
    .map((part) =>
      part.type === 'input_text' || part.type === 'output_text'
        ? part.text
        : part.type === 'refusal'
          ? part.refusal
          : '',
    )
    .join('')
}

/** A plain string when the message is text only: the form every compatible server understands. */
function userContent(parts: ContentPart[]): string | ChatCompletionContentPart[] {
  if (parts.every((part) => part.type !== 'input_image')) return plainText(parts)
  return parts.map((part): ChatCompletionContentPart => {
    if (part.type === 'input_image') {
      return { type: 'image_url', image_url: { url: part.image_url, detail: part.detail } }
    }
    return { type: 'text', text: part.type === 'refusal' ? part.refusal : part.text }
  })
}

export function toolsToChat(tools: ProviderTool[]): ChatCompletionFunctionTool[] {
  return tools.map((tool) => ({
    type: 'function',
    function: {
      name: tool.name,
      description: tool.description,
      parameters: tool.parameters,
      strict: tool.strict,
    },
  }))
}

export function toolChoiceToChat(choice: ToolChoice): ChatCompletionToolChoiceOption {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } }
}

export function usageFromChat(usage: CompletionUsage): Usage {
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    totalTokens: usage.total_tokens,
    cachedInputTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
    estimated: false,
  }
}

export type ChatFinishReason = 'stop' | 'tool_calls' | 'length' | 'content_filter'

export function finishReasonFromChat(
  reason: string | null | undefined,
  hasToolCalls: boolean,
): ChatFinishReason {
  // Some servers (older Ollama) say `stop` even when the reply is tool calls.
  if (hasToolCalls) return 'tool_calls'
  if (reason === 'length' || reason === 'content_filter') return reason
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_calls'
  return 'stop'
}

/** The items an assistant message stands for: its text, then its tool calls, in order. */
export function chatMessageToItems(
  message: Pick<ChatCompletionMessage, 'content' | 'refusal' | 'tool_calls'>,
): ItemBody[] {
  const items: ItemBody[] = []
  const text = message.content ?? ''
  if (text) {
    items.push({
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text, annotations: [] }],
    })
  } else if (message.refusal) {
    items.push({
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'refusal', refusal: message.refusal }],
    })
  }
  for (const call of message.tool_calls ?? []) {
    if (call.type !== 'function') continue
    items.push({
      type: 'function_call',
      call_id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
      status: 'completed',
    })
  }
  return items
}

/** Chat messages back to items (history import, and the round-trip test of this mapping). */
export function chatMessagesToItems(messages: ChatCompletionMessageParam[]): ItemBody[] {
  const items: ItemBody[] = []
  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer':
      case 'user': {
        const content: ContentPart[] =
          typeof message.content === 'string'
            ? [{ type: 'input_text', text: message.content }]
            : message.content.map((part): ContentPart => {
                if (part.type === 'text') return { type: 'input_text', text: part.text }
                if (part.type === 'image_url') {
                  return {
                    type: 'input_image',
                    image_url: part.image_url.url,
                    detail: part.image_url.detail ?? 'auto',
                  }
                }
                return { type: 'input_text', text: '' }
              })
        items.push({ type: 'message', role: message.role, status: 'completed', content })
        break
      }
      case 'assistant': {
        const text =
          typeof message.content === 'string'
            ? message.content
            : (message.content ?? [])
                .map((part) => (part.type === 'text' ? part.text : part.refusal))
                .join('')
        items.push(
          ...chatMessageToItems({
            content: text,
            refusal: message.refusal ?? null,
            tool_calls: message.tool_calls,
          }),
        )
        break
      }
      case 'tool':
        items.push({
          type: 'function_call_output',
          call_id: message.tool_call_id,
          output:
            typeof message.content === 'string'
              ? message.content
              : message.content.map((part) => part.text).join(''),
          status: 'completed',
        })
        break
      default:
        break
    }
  }
  return items
}
