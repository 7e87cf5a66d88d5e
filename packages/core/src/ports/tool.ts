import type { z } from 'zod'

/**
 * A server tool: Parley runs it inside the turn's tool loop.
 * Arguments are parsed and validated with `input`; a validation error goes back to the model
 * as the tool's output (not as a crash). Every call and result is stored before the next step.
 */
export interface ToolDefinition<Schema extends z.ZodType = z.ZodType> {
  name: string
  description: string
  input: Schema
  execute(args: z.infer<Schema>, ctx: ToolContext): Promise<unknown> | unknown
  /** Safe to retry after a failure (default false: a failed call is reported, never repeated). */
  idempotent?: boolean
  /** Default 30 s. */
  timeoutMs?: number
}

export interface ToolContext {
  /** `"<turnId>:<callId>"`: a tool with side effects uses it as its own idempotency key. */
  correlationId: string
  turnId: string
  callId: string
  userId: string
  conversationId: string
  /** Aborted when the turn is cancelled or the tool times out. */
  signal: AbortSignal
}

/** Identity helper that keeps the schema's type for `execute`. */
export function defineTool<Schema extends z.ZodType>(tool: ToolDefinition<Schema>): ToolDefinition<Schema> {
  return tool
}
