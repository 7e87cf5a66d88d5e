import { z } from 'zod'
import { ConversationId, Metadata, RequestId, Timestamp, TurnId } from './common.ts'
import { InputItems } from './items.ts'
import { LIMITS } from './limits.ts'
import { jsonProblem, safeText } from './text.ts'
import { Usage } from './usage.ts'

/**
 * pending → streaming → completed | failed | cancelled | interrupted.
 * `interrupted`: the process that ran the turn died (its lease expired); partial output is kept.
 */
export const TurnStatus = z.enum(['pending', 'streaming', 'completed', 'failed', 'cancelled', 'interrupted'])
export type TurnStatus = z.infer<typeof TurnStatus>

/** The statuses a turn ends with: nothing runs after them. */
export const TerminalStatus = z.enum(['completed', 'failed', 'cancelled', 'interrupted'])
export type TerminalStatus = z.infer<typeof TerminalStatus>
export const TERMINAL_STATUSES: readonly TerminalStatus[] = TerminalStatus.options
export function isTerminal(status: TurnStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly TurnStatus[]).includes(status)
}

/** A typed error as stored on a turn and sent to clients (never a stack or an SQL message). */
export const TurnError = z.object({
  reason: z.string(),
  message: z.string(),
  retryAfterMs: z.number().int().nonnegative().optional(),
})
export type TurnError = z.infer<typeof TurnError>

export const ToolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('function'), name: safeText(LIMITS.maxToolNameChars) }),
])
export type ToolChoice = z.infer<typeof ToolChoice>

/** A function tool declared by the client for one request (its execution happens client-side). */
export const FunctionToolSpec = z.object({
  type: z.literal('function'),
  name: z
    .string()
    .min(1)
    .max(LIMITS.maxToolNameChars)
    .regex(/^[A-Za-z0-9_-]+$/),
  description: safeText(4096).nullable().default(null),
  /** A JSON Schema; its strings must be storable and its nesting bounded (see LIMITS). */
  parameters: z
    .record(z.string(), z.unknown())
    .superRefine((value, ctx) => {
      const problem = jsonProblem(value, LIMITS.maxToolSchemaDepth)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    })
    .nullable()
    .default(null),
  strict: z.boolean().nullable().default(true),
})
export type FunctionToolSpec = z.infer<typeof FunctionToolSpec>

/** Model settings recorded on a turn (and echoed by `/v1` response objects). */
export const TurnSettings = z.object({
  temperature: z.number().min(0).max(2).nullable().default(null),
  topP: z.number().min(0).max(1).nullable().default(null),
  maxOutputTokens: z.number().int().positive().max(1_000_000).nullable().default(null),
  toolChoice: ToolChoice.default('auto'),
  parallelToolCalls: z.boolean().default(true),
  /** Client-declared function tools (in addition to the server's registered tools). */
  tools: z.array(FunctionToolSpec).max(LIMITS.maxToolsPerRequest).default([]),
  /** Names of server tools enabled for this turn; default: all registered. */
  serverTools: z.array(z.string().max(LIMITS.maxToolNameChars)).max(LIMITS.maxToolsPerRequest).optional(),
  metadata: Metadata.default({}),
  store: z.boolean().default(true),
})
export type TurnSettings = z.infer<typeof TurnSettings>
export type TurnSettingsInput = z.input<typeof TurnSettings>

export const Turn = z.object({
  /** Also the Responses API response id. */
  id: TurnId,
  conversationId: ConversationId,
  /** null for the first turn of a conversation. */
  parentTurnId: TurnId.nullable(),
  requestId: z.string(),
  status: TurnStatus,
  provider: z.string(),
  model: z.string(),
  instructions: z.string().nullable(),
  settings: TurnSettings,
  usage: Usage.nullable(),
  error: TurnError.nullable(),
  /** The upstream's own response id, when the provider keeps state. */
  upstreamResponseId: z.string().nullable(),
  /** True when old turns were dropped from the context to fit the model's budget. */
  truncated: z.boolean(),
  createdAt: Timestamp,
  completedAt: Timestamp.nullable(),
})
export type Turn = z.infer<typeof Turn>

/** The send of DESIGN.md: one user action, retried with the same requestId. */
export const SendInput = z.object({
  requestId: RequestId,
  conversationId: ConversationId,
  /** Plain text, or Responses-style input items. */
  input: z.union([safeText(LIMITS.maxTextChars).min(1), InputItems]),
  /** Parent turn; default: the conversation's head. */
  parentTurnId: TurnId.optional(),
  model: safeText(128).min(1).optional(),
  instructions: safeText(LIMITS.maxInstructionsChars).optional(),
  settings: TurnSettings.partial().optional(),
})
export type SendInput = z.infer<typeof SendInput>

export const RegenerateInput = z.object({
  requestId: RequestId,
  /** The turn whose reply is regenerated: a new sibling with the same input. */
  turnId: TurnId,
  model: safeText(128).min(1).optional(),
})
export type RegenerateInput = z.infer<typeof RegenerateInput>

export const EditInput = z.object({
  requestId: RequestId,
  /** The turn whose user message is edited: a new sibling with the new input. */
  turnId: TurnId,
  input: z.union([safeText(LIMITS.maxTextChars).min(1), InputItems]),
})
export type EditInput = z.infer<typeof EditInput>

export const LastEventId = z
  .string()
  .max(120)
  .regex(/^resp_[A-Za-z0-9]{8,64}:\d{1,9}$/, { message: 'must be an event id "<turnId>:<seq>"' })
