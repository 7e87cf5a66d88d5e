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

/**
 * `text` cut to at most `max` characters (`max` ≥ 2), ending in `…` when cut. The cut never falls
 * between the two halves of a surrogate pair, which would leave text that `textProblem` refuses.
 */
export function shortened(text: string, max: number): string {
  if (text.length <= max) return text
  let end = max - 1
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end -= 1
  return `${text.slice(0, end).trimEnd()}…`
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

/** Checks every string inside a JSON value (keys too) the same way as `safeText`, and its depth. */
export function jsonProblem(value: unknown, maxDepth = 32): string | null {
  return problemIn(value, maxDepth, 0)
}

function problemIn(value: unknown, maxDepth: number, depth: number): string | null {
  if (depth > maxDepth) return `is nested too deeply (more than ${maxDepth} levels)`
  if (typeof value === 'string') return textProblem(value)
  if (Array.isArray(value)) {
    for (const entry of value) {
      const problem = problemIn(entry, maxDepth, depth + 1)
      if (problem) return problem
    }
    return null
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, entry] of Object.entries(value)) {
      const problem = textProblem(key) ?? problemIn(entry, maxDepth, depth + 1)
      if (problem) return problem
    }
  }
  return null
}
