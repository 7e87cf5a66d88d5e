import { z } from 'zod'

// Postgres rejects U+0000 in text and jsonb, and a lone UTF-16 surrogate cannot be encoded
// as UTF-8: both are refused at the edge with a validation error naming the field.
const NUL = /\u0000/
/** Either problem needs one of these characters: most text has none and needs no closer look. */
const SUSPECT = /[\u0000\uD800-\uDFFF]/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g')
const NULS = /\u0000/g

export function textProblem(value: string): string | null {
  if (!SUSPECT.test(value)) return null
  if (NUL.test(value)) return 'must not contain the NUL character (\\u0000)'
  if (LONE_SURROGATE.test(value)) return 'must not contain a lone UTF-16 surrogate'
  return null
}

/**
 * Text that is not a request (a model's reply, a tool's output) made storable rather than
 * refused: NUL and lone surrogates become U+FFFD.
 */
export function storableText(value: string): string {
  if (!SUSPECT.test(value)) return value
  return value.replace(NULS, '\uFFFD').replace(LONE_SURROGATES, '\uFFFD')
}

/** A string that Postgres can store and UTF-8 can encode, at most `max` characters. */
export function safeText(max: number) {
  return z
    .string()
    .max(max)
    .superRefine((value, ctx) => {
      const problem = textProblem(value)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    })
}

/** Checks every string inside a JSON value (keys too) the same way as `safeText`. */
export function jsonProblem(value: unknown, depth = 0): string | null {
  if (depth > 32) return 'is nested too deeply (more than 32 levels)'
  if (typeof value === 'string') return textProblem(value)
  if (Array.isArray(value)) {
    for (const entry of value) {
      const problem = jsonProblem(entry, depth + 1)
      if (problem) return problem
    }
    return null
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, entry] of Object.entries(value)) {
      const problem = textProblem(key) ?? jsonProblem(entry, depth + 1)
      if (problem) return problem
    }
  }
  return null
}
