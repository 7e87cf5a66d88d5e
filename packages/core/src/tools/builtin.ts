import { z } from 'zod'
import { type Clock, systemClock } from '../ports/system.ts'
import { defineTool, type ToolDefinition } from '../ports/tool.ts'
import { evaluateExpression } from './calculator.ts'

/** The current time, in UTC (ISO 8601) and in an IANA time zone. */
export function clockTool(clock: Clock = systemClock) {
  return defineTool({
    name: 'clock',
    description: 'Current date and time: ISO 8601 in UTC, and the local time in an IANA time zone.',
    input: z.object({
      timeZone: z.string().max(64).optional().describe('IANA time zone, e.g. "Europe/Paris" (default "UTC")'),
    }),
    idempotent: true,
    timeoutMs: 1000,
    execute({ timeZone = 'UTC' }) {
      const now = clock.now()
      let local: string
      try {
        local = new Intl.DateTimeFormat('en-CA', {
          timeZone,
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
          hourCycle: 'h23',
          timeZoneName: 'shortOffset',
        }).format(now)
      } catch {
        throw new Error(`Unknown time zone '${timeZone}'`)
      }
      return { iso: now.toISOString(), timeZone, local }
    },
  })
}

export const calculatorTool = defineTool({
  name: 'calculator',
  description:
    'Evaluates an arithmetic expression exactly as written: numbers, + - * / % ^ and parentheses (e.g. "(2 + 3) * 4.5").',
  input: z.object({ expression: z.string().min(1).max(1000).describe('The arithmetic expression') }),
  idempotent: true,
  timeoutMs: 1000,
  execute({ expression }) {
    return { expression, result: evaluateExpression(expression) }
  },
})

/** The harmless tools every server offers unless configured otherwise. */
export const builtinTools: readonly ToolDefinition[] = [
  clockTool() as ToolDefinition,
  calculatorTool as ToolDefinition,
]
