import { LIMITS, Metadata } from '@parley/core'
import { z } from 'zod'

/**
 * Request bodies of `/v1`, in Responses API terms. These schemas check shapes; the content
 * rules (text Postgres can store, sizes, counts) are the core schemas', applied when the items
 * are converted (see items.ts), so `/v1` and tRPC refuse the same inputs.
 */

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const InputTextPart = z.object({ type: z.literal('input_text'), text: z.string() })
const OutputTextPart = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()).optional(),
})
const RefusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() })
const InputImagePart = z.object({
  type: z.literal('input_image'),
  image_url: z.string({ error: 'is required: only image URLs (http:, https: or data:) are supported' }),
  detail: z.enum(['low', 'high', 'auto']).optional(),
})

const ContentPart = z.discriminatedUnion(
  'type',
  [InputTextPart, OutputTextPart, RefusalPart, InputImagePart],
  {
    error: 'must be a content part of type input_text, output_text, refusal or input_image',
  },
)
export type WireContentPartInput = z.infer<typeof ContentPart>

const ItemStatus = z.enum(['in_progress', 'completed', 'incomplete'])

const MessageInput = z.object({
  type: z.literal('message'),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(ContentPart)]),
  status: ItemStatus.nullish(),
})
const FunctionCallInput = z.object({
  type: z.literal('function_call'),
  call_id: z.string(),
  name: z.string(),
  arguments: z.string(),
  status: ItemStatus.nullish(),
})
const FunctionCallOutputInput = z.object({
  type: z.literal('function_call_output'),
  call_id: z.string(),
  // The SDK also allows a list of content parts; text parts are joined, others refused.
  output: z.union([z.string(), z.array(InputTextPart)]),
  status: ItemStatus.nullish(),
})
const ReasoningInput = z.object({
  type: z.literal('reasoning'),
  summary: z.array(z.object({ type: z.literal('summary_text'), text: z.string() })).optional(),
  encrypted_content: z.string().nullish(),
})

/** An input item. A message may omit `type` (the SDK's EasyInputMessage). */
export const InputItem = z.preprocess(
  (value) =>
    isRecord(value) && value.type === undefined && 'role' in value ? { ...value, type: 'message' } : value,
  z.discriminatedUnion('type', [MessageInput, FunctionCallInput, FunctionCallOutputInput, ReasoningInput], {
    error: 'must be an item of type message, function_call, function_call_output or reasoning',
  }),
)
export type InputItem = z.infer<typeof InputItem>

export const InputItems = z.array(InputItem).min(1).max(LIMITS.maxInputItems)

const FunctionTool = z.strictObject({
  type: z.literal('function'),
  name: z.string(),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
})
const Tool = z.discriminatedUnion('type', [FunctionTool], {
  error: 'must be a tool of type function (hosted tools are not supported)',
})

const ToolChoice = z.union(
  [z.enum(['auto', 'none', 'required']), z.object({ type: z.literal('function'), name: z.string() })],
  { error: "must be 'auto', 'none', 'required' or { type: 'function', name }" },
)

const ConversationRef = z.union([z.string(), z.object({ id: z.string() })])

export const CreateResponseBody = z.object({
  model: z.string().min(1).max(128).nullish(),
  input: z.union([z.string().min(1), InputItems], {
    error: 'must be a non-empty string or a non-empty array of input items',
  }),
  instructions: z.string().nullish(),
  previous_response_id: z.string().max(200).nullish(),
  conversation: ConversationRef.nullish(),
  stream: z.boolean().nullish(),
  tools: z.array(Tool).max(LIMITS.maxToolsPerRequest).nullish(),
  tool_choice: ToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  metadata: Metadata.nullish(),
  store: z.boolean().nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  // Accepted and echoed as null: they change nothing that Parley does (see NO_EFFECT_PARAMS).
  user: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  include: z.array(z.string()).nullish(),
})
export type CreateResponseBody = z.infer<typeof CreateResponseBody>

/**
 * Parameters whose effect Parley does not implement. They are refused by name rather than
 * ignored, because ignoring them would silently change what the caller asked for. Each check
 * returns null when the value is one that means "off".
 */
export const UNSUPPORTED_PARAMS: [string, (value: unknown) => string | null][] = [
  [
    'background',
    (v) =>
      v === true
        ? 'Background mode is not supported: send stream: true, or reattach with GET /v1/responses/{id}?stream=true'
        : null,
  ],
  ['prompt', (v) => (v == null ? null : 'Prompt templates are not supported')],
  [
    'context_management',
    (v) => (v == null || (Array.isArray(v) && v.length === 0) ? null : 'Context management is not supported'),
  ],
  ['moderation', (v) => (v == null ? null : 'Moderation settings are not supported')],
  ['max_tool_calls', (v) => (v == null ? null : 'max_tool_calls is not supported')],
  ['top_logprobs', (v) => (v == null || v === 0 ? null : 'Log probabilities are not supported')],
  [
    'reasoning',
    (v) =>
      v == null || (isRecord(v) && Object.values(v).every((entry) => entry == null))
        ? null
        : 'Reasoning settings are not supported',
  ],
  [
    'text',
    (v) => {
      if (v == null) return null
      if (!isRecord(v)) return 'text must be an object'
      const format = v.format
      if (format == null || (isRecord(format) && format.type === 'text')) return null
      return "Only the 'text' output format is supported (no json_schema or json_object)"
    },
  ],
]

/**
 * Parameters of the Responses API that Parley accepts and that change nothing it does: hints for
 * the upstream's cache, retention and billing, and stream options. (`user`, `safety_identifier`,
 * `prompt_cache_key` and `include` are in the schema above for the same reason.)
 */
const NO_EFFECT_PARAMS = ['prompt_cache_options', 'prompt_cache_retention', 'service_tier', 'stream_options']

/**
 * Every parameter of `POST /v1/responses`. Any other is refused as unknown, as the OpenAI API
 * does: a misspelt parameter must not silently change what the caller asked for.
 */
export const RESPONSE_PARAMS: ReadonlySet<string> = new Set([
  ...Object.keys(CreateResponseBody.shape),
  ...UNSUPPORTED_PARAMS.map(([param]) => param),
  ...NO_EFFECT_PARAMS,
])

export const CreateConversationBody = z
  .strictObject({
    items: z.array(InputItem).max(LIMITS.maxInputItems).nullish(),
    metadata: Metadata.nullish(),
  })
  .nullish()

export const UpdateConversationBody = z.strictObject({ metadata: Metadata.nullable() })

export const CreateItemsBody = z.strictObject({
  items: z.array(InputItem).min(1).max(LIMITS.maxInputItems),
})

export const ListQuery = z.object({
  after: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
})
export type ListQuery = z.infer<typeof ListQuery>

export const StreamQuery = z.object({
  stream: z.enum(['true', 'false']).optional(),
  starting_after: z.coerce.number().int().min(0).optional(),
})
