import { type UsageStore, type UsageTotal, ValidationError } from '@parley/core'
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm'
import type { Executor } from '../db.ts'
import { guarded } from '../errors.ts'
import { usageLedger } from '../schema.ts'
import { isId } from '../validate.ts'

function validDate(field: string, value: unknown): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value
  throw new ValidationError([{ path: field, message: 'must be a valid date' }])
}

export class PgUsageStore implements UsageStore {
  constructor(private readonly db: Executor) {}

  totals(userId: string, range: { from: Date; to: Date }): Promise<UsageTotal[]> {
    return guarded(async () => {
      const from = validDate('from', range.from)
      const to = validDate('to', range.to)
      if (!isId('user', userId)) return []
      const day = sql<string>`to_char(${usageLedger.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`
      return this.db
        .select({
          day,
          model: usageLedger.model,
          turns: sql<number>`count(distinct ${usageLedger.turnId})`.mapWith(Number),
          inputTokens: sql<number>`sum(${usageLedger.inputTokens})`.mapWith(Number),
          outputTokens: sql<number>`sum(${usageLedger.outputTokens})`.mapWith(Number),
          totalTokens: sql<number>`sum(${usageLedger.totalTokens})`.mapWith(Number),
        })
        .from(usageLedger)
        .where(
          and(
            eq(usageLedger.userId, userId),
            gte(usageLedger.createdAt, from),
            lt(usageLedger.createdAt, to),
          ),
        )
        .groupBy(day, usageLedger.model)
        .orderBy(asc(day), asc(usageLedger.model))
    })
  }
}
