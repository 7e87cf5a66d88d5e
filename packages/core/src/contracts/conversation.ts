import { z } from 'zod'
import { ConversationId, Metadata, Timestamp } from './common.ts'
import { LIMITS } from './limits.ts'
import { safeText } from './text.ts'

export const Title = safeText(LIMITS.maxTitleChars)

export const Conversation = z.object({
  id: ConversationId,
  title: z.string(),
  metadata: Metadata,
  /** The latest turn of the selected branch; null before the first send. */
  headTurnId: z.string().nullable(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
})
export type Conversation = z.infer<typeof Conversation>

export const CreateConversationInput = z.object({
  title: Title.optional(),
  metadata: Metadata.optional(),
})
export type CreateConversationInput = z.infer<typeof CreateConversationInput>

export const UpdateConversationInput = z.object({
  id: ConversationId,
  title: Title.optional(),
  metadata: Metadata.optional(),
})
export type UpdateConversationInput = z.infer<typeof UpdateConversationInput>
