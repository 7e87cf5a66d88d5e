import type { Conversation as SdkConversation } from 'openai/resources/conversations/conversations'
import type { ConversationItem as SdkConversationItem } from 'openai/resources/conversations/items'
import type {
  Response as SdkResponse,
  ResponseItem as SdkResponseItem,
  ResponseOutputItem as SdkResponseOutputItem,
  ResponseOutputText as SdkResponseOutputText,
  ResponseStreamEvent as SdkResponseStreamEvent,
} from 'openai/resources/responses/responses'

/**
 * The `/v1` wire shapes. They are written out here (every field present, null where unknown,
 * as the Open Responses schema requires) and checked at compile time against the official
 * SDK's types at the bottom of this file, so that tsc proves the SDK can parse what we send.
 * Only types are imported from the SDK: nothing of it runs on the server.
 */

export interface WireInputText {
  type: 'input_text'
  text: string
}
/** Annotations are passed through as the upstream produced them (OpenAI's shapes). */
export type WireAnnotation = SdkResponseOutputText['annotations'][number]

export interface WireOutputText {
  type: 'output_text'
  text: string
  annotations: WireAnnotation[]
  logprobs: []
}
export interface WireRefusal {
  type: 'refusal'
  refusal: string
}
export interface WireInputImage {
  type: 'input_image'
  image_url: string
  detail: 'low' | 'high' | 'auto'
  file_id: null
}
export type ItemStatus = 'in_progress' | 'completed' | 'incomplete'

export interface WireInputMessageItem {
  id: string
  type: 'message'
  role: 'user' | 'system' | 'developer'
  status: ItemStatus
  content: (WireInputText | WireInputImage)[]
}
export interface WireOutputMessageItem {
  id: string
  type: 'message'
  role: 'assistant'
  status: ItemStatus
  content: (WireOutputText | WireRefusal)[]
}
export type WireMessageItem = WireInputMessageItem | WireOutputMessageItem
export interface WireFunctionCallItem {
  id: string
  type: 'function_call'
  call_id: string
  name: string
  arguments: string
  status: ItemStatus
}
export interface WireFunctionCallOutputItem {
  id: string
  type: 'function_call_output'
  call_id: string
  output: string
  status: ItemStatus
}
export interface WireReasoningItem {
  id: string
  type: 'reasoning'
  summary: { type: 'summary_text'; text: string }[]
  encrypted_content: string | null
  status: ItemStatus
}
export type WireItem = WireMessageItem | WireFunctionCallItem | WireFunctionCallOutputItem | WireReasoningItem
export type WireOutputItem =
  | WireOutputMessageItem
  | WireFunctionCallItem
  | WireFunctionCallOutputItem
  | WireReasoningItem

export interface WireFunctionTool {
  type: 'function'
  name: string
  description: string | null
  parameters: Record<string, unknown> | null
  strict: boolean | null
}

export type WireToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; name: string }

export interface WireUsage {
  input_tokens: number
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number }
  output_tokens: number
  output_tokens_details: { reasoning_tokens: number }
  total_tokens: number
}

export type WireResponseStatus =
  | 'completed'
  | 'failed'
  | 'in_progress'
  | 'cancelled'
  | 'queued'
  | 'incomplete'

export interface WireResponse {
  id: string
  object: 'response'
  created_at: number
  completed_at: number | null
  status: WireResponseStatus
  /** `code` is Parley's stable reason (`interrupted`, `upstream_unavailable`, …). */
  error: { code: string; message: string } | null
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null
  model: string
  output: WireOutputItem[]
  usage: WireUsage | null
  previous_response_id: string | null
  conversation: { id: string } | null
  instructions: string | null
  tools: WireFunctionTool[]
  tool_choice: WireToolChoice
  parallel_tool_calls: boolean
  truncation: 'auto' | 'disabled'
  text: { format: { type: 'text' }; verbosity: null }
  reasoning: null
  temperature: number | null
  top_p: number | null
  presence_penalty: number
  frequency_penalty: number
  top_logprobs: number
  max_output_tokens: number | null
  max_tool_calls: null
  metadata: Record<string, string>
  store: boolean
  background: false
  service_tier: 'default'
  user: null
  safety_identifier: null
  prompt_cache_key: null
  prompt_cache_retention: null
  prompt: null
}

interface Sequenced {
  sequence_number: number
}
export type WireStreamEvent = Sequenced &
  (
    | { type: 'response.created' | 'response.in_progress'; response: WireResponse }
    | { type: 'response.completed' | 'response.failed' | 'response.incomplete'; response: WireResponse }
    | {
        type: 'response.output_item.added' | 'response.output_item.done'
        output_index: number
        item: WireOutputItem
      }
    | {
        type: 'response.content_part.added' | 'response.content_part.done'
        item_id: string
        output_index: number
        content_index: number
        part: WireOutputText | WireRefusal
      }
    | {
        type: 'response.output_text.delta'
        item_id: string
        output_index: number
        content_index: number
        delta: string
        logprobs: []
      }
    | {
        type: 'response.output_text.done'
        item_id: string
        output_index: number
        content_index: number
        text: string
        logprobs: []
      }
    | { type: 'response.function_call_arguments.delta'; item_id: string; output_index: number; delta: string }
    | {
        type: 'response.function_call_arguments.done'
        item_id: string
        output_index: number
        name: string
        arguments: string
      }
    | { type: 'error'; code: string | null; message: string; param: string | null }
  )

export interface WireList<T> {
  object: 'list'
  data: T[]
  first_id: string | null
  last_id: string | null
  has_more: boolean
}

export interface WireConversation {
  id: string
  object: 'conversation'
  created_at: number
  metadata: Record<string, string>
}

export interface WireErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

// Compile-time proof that the SDK accepts our shapes. Adjusted: `output_text` is computed by
// the SDK; the SDK's error code enum does not know Parley's reasons; `user` and `usage` are
// required and nullable in the Open Responses schema where the SDK types them optional (its
// parser takes null as absent).
type SdkResponseAsSent = Omit<SdkResponse, 'output_text' | 'error' | 'user' | 'usage'> & {
  user?: string | null
  usage?: SdkResponse['usage'] | null
}
type Assignable<Sub extends Super, Super> = [Sub, Super]
export type WireChecks = [
  Assignable<Omit<WireResponse, 'error'>, SdkResponseAsSent>,
  Assignable<WireOutputItem, SdkResponseOutputItem>,
  Assignable<WireItem, SdkResponseItem>,
  Assignable<WireItem, SdkConversationItem>,
  Assignable<Exclude<WireStreamEvent, { response: WireResponse }>, SdkResponseStreamEvent>,
  Assignable<WireConversation, SdkConversation>,
]
