import type { z } from 'zod'
import { type FieldIssue, ValidationError } from './errors.ts'

/** zod issues → field issues with dotted paths (`input.0.content.0.text`). */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }))
}

/** Parses `value` with `schema`; a failure is a `ValidationError` naming the fields. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown): z.infer<Schema> {
  const result = schema.safeParse(value)
  if (!result.success) throw new ValidationError(toFieldIssues(result.error))
  return result.data
}
