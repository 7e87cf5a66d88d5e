import type { z } from 'zod'
import { type FieldIssue, ValidationError } from './errors.ts'

/**
 * A zod issue, as a ZodError holds it or as a Standard Schema validation of a zod schema reports
 * it (whose path segments may be `{ key }` objects).
 */
interface Issue {
  code?: string
  path?: readonly (PropertyKey | { key: PropertyKey })[]
  message?: string
  /** The issues of each branch, on an `invalid_union` issue. */
  errors?: readonly (readonly Issue[])[]
}

// A path segment may be a user-supplied record key: escape control characters and surrogates
// so that an error message never carries them back.
function segment(key: PropertyKey | { key: PropertyKey }): string {
  return String(typeof key === 'object' ? key.key : key).replace(
    /[\u0000-\u001f\u007f\ud800-\udfff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/**
 * A union reports one issue at its own path with the issues of every branch. The branch that
 * got furthest (its first issue is not a type mismatch at the union's own path) is the one the
 * caller meant, so its issues name the field; otherwise the union's own issue stands.
 */
function flatten(issue: Issue, prefix: string[]): FieldIssue[] {
  const path = [...prefix, ...(issue.path ?? []).map(segment)]
  if (issue.code === 'invalid_union' && issue.errors && issue.errors.length > 0) {
    const meant = issue.errors.find((branch) =>
      branch.some((inner) => (inner.path?.length ?? 0) > 0 || inner.code !== 'invalid_type'),
    )
    if (meant) return meant.flatMap((inner) => flatten(inner, path))
  }
  return [
    { path: path.join('.'), message: typeof issue.message === 'string' ? issue.message : 'Invalid value' },
  ]
}

/** zod issues (of a ZodError, or of a Standard Schema failure) → field issues with dotted paths (`input.0.content.0.text`). */
export function toFieldIssues(error: { readonly issues: readonly Issue[] }): FieldIssue[] {
  return error.issues.flatMap((issue) => flatten(issue, []))
}

/** Parses `value` with `schema`; a failure is a `ValidationError` naming the fields. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, value: unknown): z.infer<Schema> {
  const result = schema.safeParse(value)
  if (!result.success) throw new ValidationError(toFieldIssues(result.error))
  return result.data
}
