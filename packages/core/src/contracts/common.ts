import { z } from 'zod'
import { LIMITS } from './limits.ts'
import { jsonProblem, safeText } from './text.ts'

/** Server-minted ids: a short type prefix, an underscore, 8–64 url-safe characters. */
export function idSchema(prefix: string) {
  return z
    .string()
    .max(80)
    .regex(new RegExp(`^${prefix}_[A-Za-z0-9]{8,64}$`), { message: `must be a ${prefix}_… id` })
}

export const ConversationId = idSchema('conv')
export const TurnId = idSchema('resp')
export const ItemId = idSchema('item')
export const UserId = idSchema('user')

/** A client request id (tRPC `requestId`, REST `Idempotency-Key`). */
export const RequestId = z
  .string()
  .min(1)
  .max(LIMITS.maxRequestIdChars)
  .regex(/^[\x21-\x7E]+$/, { message: 'must be printable ASCII without spaces' })

/** Responses-API style metadata: at most 16 string pairs, bounded sizes. */
export const Metadata = z
  .record(safeText(LIMITS.maxMetadataKeyChars), safeText(LIMITS.maxMetadataValueChars))
  .superRefine((value, ctx) => {
    if (Object.keys(value).length > LIMITS.maxMetadataKeys) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${LIMITS.maxMetadataKeys} keys` })
    }
    if (JSON.stringify(value).length > LIMITS.maxMetadataChars) {
      ctx.addIssue({
        code: 'custom',
        message: `must be at most ${LIMITS.maxMetadataChars} characters as JSON`,
      })
    }
  })
export type Metadata = z.infer<typeof Metadata>

/** Any JSON value whose strings Postgres can store. */
export const SafeJson = z.unknown().superRefine((value, ctx) => {
  const problem = jsonProblem(value)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

export const Timestamp = z.string().datetime({ offset: true })

export const PageInput = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(LIMITS.maxPageSize).default(LIMITS.defaultPageSize),
})
export type PageInput = z.input<typeof PageInput>

export interface Page<T> {
  data: T[]
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null
}
