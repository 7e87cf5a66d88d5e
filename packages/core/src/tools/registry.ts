import { z } from 'zod'
import { LIMITS } from '../contracts/limits.ts'
import { storableText } from '../contracts/text.ts'
import type { ProviderTool } from '../ports/provider.ts'
import type { ToolContext, ToolDefinition } from '../ports/tool.ts'

export const DEFAULT_TOOL_TIMEOUT_MS = 30_000
/** Extra attempts for a tool marked idempotent; others run exactly once. */
export const IDEMPOTENT_RETRIES = 2

export interface ToolOutcome {
  /** What goes back to the model (and is stored as the function_call_output). */
  output: string
  isError: boolean
  durationMs: number
}

/** What the registry needs from the turn to run a call; `correlationId` is derived from it. */
export type ToolCallContext = Omit<ToolContext, 'correlationId'>

/** A listing entry (the `tools.list` procedure). */
export interface ToolSummary {
  name: string
  description: string
  parameters: Record<string, unknown>
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Server tools by name. Turns their zod schemas into JSON Schema for providers and runs calls:
 * argument parsing and validation, timeout, the turn's abort signal, retries for idempotent
 * tools. A bad call never throws: its error becomes the tool's output (`isError: true`) so the
 * model can correct itself. Only the turn's own abort propagates (as the signal's reason).
 */
export class ToolRegistry {
  readonly #tools = new Map<string, { tool: ToolDefinition; parameters: Record<string, unknown> }>()

  register<Schema extends z.ZodType>(tool: ToolDefinition<Schema>): this {
    if (!NAME.test(tool.name)) {
      throw new TypeError(`Tool name '${tool.name}' must be 1-64 letters, digits, '_' or '-'`)
    }
    if (this.#tools.has(tool.name)) throw new TypeError(`Tool '${tool.name}' is already registered`)
    this.#tools.set(tool.name, {
      tool: tool as unknown as ToolDefinition,
      parameters: toParameters(tool.input),
    })
    return this
  }

  get(name: string): ToolDefinition | undefined {
    return this.#tools.get(name)?.tool
  }

  has(name: string): boolean {
    return this.#tools.has(name)
  }

  list(): ToolSummary[] {
    return [...this.#tools.values()].map(({ tool, parameters }) => ({
      name: tool.name,
      description: tool.description,
      parameters,
    }))
  }

  /** The tools offered to the model; `names` (a turn's `serverTools`) narrows them, unknown names are ignored. */
  providerTools(names?: readonly string[]): ProviderTool[] {
    const enabled = names ? new Set(names) : null
    return [...this.#tools.values()]
      .filter(({ tool }) => !enabled || enabled.has(tool.name))
      .map(({ tool, parameters }) => ({
        name: tool.name,
        description: tool.description,
        parameters,
        // Strict mode needs every property required; zod optionals are not, so it stays off.
        strict: false,
      }))
  }

  async execute(name: string, rawArguments: string, ctx: ToolCallContext): Promise<ToolOutcome> {
    const started = performance.now()
    const finish = (output: string, isError: boolean): ToolOutcome => ({
      output: safeOutput(output),
      isError,
      durationMs: Math.max(0, Math.round(performance.now() - started)),
    })

    const entry = this.#tools.get(name)
    if (!entry) return finish(`Unknown tool '${name}'`, true)
    const { tool } = entry

    let json: unknown
    try {
      json = rawArguments.trim() === '' ? {} : JSON.parse(rawArguments)
    } catch (error) {
      return finish(`Invalid arguments: not valid JSON (${errorMessage(error)})`, true)
    }
    const parsed = tool.input.safeParse(json)
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((issue) => (issue.path.length ? `${issue.path.map(String).join('.')}: ` : '') + issue.message)
        .join('; ')
      return finish(`Invalid arguments: ${issues}`, true)
    }

    const attempts = tool.idempotent ? 1 + IDEMPOTENT_RETRIES : 1
    const timeoutMs = tool.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS
    let lastError = ''
    for (let attempt = 1; attempt <= attempts; attempt++) {
      ctx.signal.throwIfAborted()
      const result = await runOnce(
        tool,
        parsed.data,
        { ...ctx, correlationId: `${ctx.turnId}:${ctx.callId}` },
        timeoutMs,
      )
      if (result.ok) return finish(stringifyOutput(result.value), false)
      lastError = result.error
    }
    return finish(lastError, true)
  }
}

type Attempt = { ok: true; value: unknown } | { ok: false; error: string }

async function runOnce(
  tool: ToolDefinition,
  args: unknown,
  ctx: ToolContext,
  timeoutMs: number,
): Promise<Attempt> {
  const controller = new AbortController()
  let rejectStop: (reason: unknown) => void = () => {}
  const stopped = new Promise<never>((_, reject) => {
    rejectStop = reject
  })
  const onTurnAbort = () => {
    controller.abort(ctx.signal.reason)
    rejectStop(ctx.signal.reason)
  }
  ctx.signal.addEventListener('abort', onTurnAbort, { once: true })
  const timer = setTimeout(() => {
    const error = new ToolTimeoutError(timeoutMs)
    controller.abort(error)
    rejectStop(error)
  }, timeoutMs)
  try {
    const value = await Promise.race([
      Promise.resolve().then(() => tool.execute(args, { ...ctx, signal: controller.signal })),
      stopped,
    ])
    return { ok: true, value }
  } catch (error) {
    // The turn was cancelled: that is not the tool's failure, the turn handles it.
    if (ctx.signal.aborted) throw ctx.signal.reason
    return { ok: false, error: errorMessage(error) }
  } finally {
    clearTimeout(timer)
    ctx.signal.removeEventListener('abort', onTurnAbort)
    // A tool that ignores its signal may still settle later; its result is no longer wanted.
    stopped.catch(() => {})
  }
}

class ToolTimeoutError extends Error {
  override name = 'ToolTimeoutError'
  constructor(ms: number) {
    super(`Tool timed out after ${ms} ms`)
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return typeof error === 'string' ? error : 'Tool failed'
}

function stringifyOutput(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined) return ''
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

// Outputs are stored in Postgres text and fed back to the model: NUL is unstorable and a lone
// surrogate cannot be encoded, so both are replaced; oversize output is cut at the payload limit.
function safeOutput(output: string): string {
  // Cut first: a cut through a surrogate pair leaves a lone half, which is then replaced too.
  const max = LIMITS.maxToolPayloadChars
  return storableText(output.length > max ? output.slice(0, max) : output)
}

function toParameters(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...parameters } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>
  return parameters
}
