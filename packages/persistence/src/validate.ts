import { ValidationError } from '@parley/core'
import type { z } from 'zod'

const ID_SHAPE: Record<string, RegExp> = {}

/** True when `value` has the shape of a server-minted id; anything else can only be unknown. */
export function isId(prefix: 'conv' | 'resp' | 'item' | 'user', value: unknown): value is string {
  ID_SHAPE[prefix] ??= new RegExp(`^${prefix}_[A-Za-z0-9]{8,64}$`)
  return typeof value === 'string' && ID_SHAPE[prefix].test(value)
}

/** Parses with a core schema, naming the field in the ValidationError. */
export function check<Schema extends z.ZodType>(
  field: string,
  schema: Schema,
  value: unknown,
): z.infer<Schema> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: [field, ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  )
}

export function checkTokenCounts(field: string, counts: number[], expected: number): number[] {
  if (counts.length !== expected) {
    throw new ValidationError([{ path: field, message: `must have ${expected} entries` }])
  }
  for (const count of counts) {
    if (!Number.isSafeInteger(count) || count < 0 || count > 2_000_000_000) {
      throw new ValidationError([{ path: field, message: 'must be non-negative integers' }])
    }
  }
  return counts
}

/** Optional pre-announced item ids: one slot per item, each absent or a well-formed `item_…` id. */
export function checkItemIds(
  field: string,
  ids: (string | undefined)[] | undefined,
  expected: number,
): (string | undefined)[] | undefined {
  if (ids === undefined) return undefined
  if (ids.length !== expected) {
    throw new ValidationError([{ path: field, message: `must have ${expected} entries` }])
  }
  for (const id of ids) {
    if (id !== undefined && !isId('item', id)) {
      throw new ValidationError([{ path: field, message: 'must be item ids' }])
    }
  }
  return ids
}

/** An ISO instant, as a value for a `timestamptz` parameter. */
export function checkInstant(field: string, value: string): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new ValidationError([{ path: field, message: 'must be an ISO date-time' }])
  }
  return new Date(value).toISOString()
}
