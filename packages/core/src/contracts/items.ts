import { z } from 'zod'
import { ItemId, Timestamp } from './common.ts'
import { LIMITS } from './limits.ts'
import { safeText } from './text.ts'

/**
 * Items are the entries of history, in Responses API terms (snake_case fields on purpose:
 * they map 1:1 onto `/v1` input and output items).
 */

export const Role = z.enum(['user', 'assistant', 'system', 'developer'])
export type Role = z.infer<typeof Role>

const Text = safeText(LIMITS.maxTextChars)

export const InputTextPart = z.object({ type: z.literal('input_text'), text: Text })
export const OutputTextPart = z.object({
  type: z.literal('output_text'),
  text: Text,
  annotations: z.array(z.unknown()).max(256).default([]),
})
export const RefusalPart = z.object({ type: z.literal('refusal'), refusal: Text })
export const InputImagePart = z.object({
  type: z.literal('input_image'),
  /** An http(s) URL or a `data:` URL, as the Responses API takes them. */
  image_url: safeText(LIMITS.maxTextChars).regex(/^(https?:\/\/[^\s]|data:)/i, {
    message: 'must be an http(s) URL or a data: URL',
  }),
  detail: z.enum(['low', 'high', 'auto']).default('auto'),
})
export const ContentPart = z.discriminatedUnion('type', [
  InputTextPart,
  OutputTextPart,
  RefusalPart,
  InputImagePart,
])
export type ContentPart = z.infer<typeof ContentPart>

export const ItemStatus = z.enum(['in_progress', 'completed', 'incomplete'])

export const MessageItemBody = z.object({
  type: z.literal('message'),
  role: Role,
  content: z.array(ContentPart).min(1).max(LIMITS.maxContentParts),
  status: ItemStatus.default('completed'),
})

const CallId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7E]+$/, { message: 'must be printable ASCII' })

export const FunctionCallItemBody = z.object({
  type: z.literal('function_call'),
  call_id: CallId,
  name: z
    .string()
    .min(1)
    .max(LIMITS.maxToolNameChars)
    .regex(/^[A-Za-z0-9_.-]+$/, { message: 'must use only letters, digits, _ . -' }),
  /** JSON text, exactly as the model produced it. */
  arguments: safeText(LIMITS.maxToolPayloadChars),
  status: ItemStatus.default('completed'),
})

export const FunctionCallOutputItemBody = z.object({
  type: z.literal('function_call_output'),
  call_id: CallId,
  output: safeText(LIMITS.maxToolPayloadChars),
  status: ItemStatus.default('completed'),
  /** Parley extension: true when the output reports a tool error (also fed to the model). */
  is_error: z.boolean().optional(),
  /** Parley extension: how long the tool ran. */
  duration_ms: z.number().int().nonnegative().optional(),
})

export const ReasoningItemBody = z.object({
  type: z.literal('reasoning'),
  summary: z
    .array(z.object({ type: z.literal('summary_text'), text: Text }))
    .max(64)
    .default([]),
  encrypted_content: safeText(LIMITS.maxTextChars).nullable().default(null),
})

/** An item without an id: what a client sends, or a provider produced before we minted an id. */
export const ItemBody = z.discriminatedUnion('type', [
  MessageItemBody,
  FunctionCallItemBody,
  FunctionCallOutputItemBody,
  ReasoningItemBody,
])
export type ItemBody = z.infer<typeof ItemBody>
export type ItemBodyInput = z.input<typeof ItemBody>
export type MessageItemBody = z.infer<typeof MessageItemBody>
export type FunctionCallItemBody = z.infer<typeof FunctionCallItemBody>
export type FunctionCallOutputItemBody = z.infer<typeof FunctionCallOutputItemBody>
export type ReasoningItemBody = z.infer<typeof ReasoningItemBody>

/** What a client may send as input: the items of one request. */
export const InputItems = z.array(ItemBody).min(1).max(LIMITS.maxInputItems)

/** A stored item: server-minted immutable id, per-conversation monotonic seq. */
export const Item = z.intersection(
  ItemBody,
  z.object({
    id: ItemId,
    conversationId: z.string(),
    turnId: z.string(),
    /** Monotonic per conversation, from 1. */
    seq: z.number().int().positive(),
    /** `input` items came from the client; `output` items from the model or tools. */
    side: z.enum(['input', 'output']),
    tokenCount: z.number().int().nonnegative(),
    createdAt: Timestamp,
  }),
)
export type Item = z.infer<typeof Item>

/**
 * A stored item as a turn's context needs it: the body the model is sent, the turn it belongs to
 * (context fitting drops whole turns, and a continuation sends only the turn's own input) and its
 * token count. Stores read contexts in this form: a fraction of a whole `Item` to move and build.
 */
export interface ContextItem {
  body: ItemBody
  turnId: string
  tokenCount: number
}

/** Plain text of a message item (output_text, input_text and refusal parts joined). */
export function messageText(item: ItemBody): string {
  if (item.type !== 'message') return ''
  return item.content
    .map((part) => {
      if (part.type === 'input_text' || part.type === 'output_text') return part.text
      if (part.type === 'refusal') return part.refusal
      return ''
    })
    .join('')
}

export function userText(text: string): ItemBody {
  return { type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text }] }
}

export function assistantText(text: string): ItemBody {
  return {
    type: 'message',
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text, annotations: [] }],
  }
}
