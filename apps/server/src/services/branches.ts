import { type Conversation, NotFoundError, type Stores } from '@parley/core'

/** Branch selection (`conversations.switchBranch`). */
export class BranchService {
  constructor(private readonly stores: Stores) {}

  async switchBranch(userId: string, conversationId: string, turnId: string): Promise<Conversation> {
    const conversation = await this.stores.conversations.setHead(userId, conversationId, turnId)
    // Unknown conversation, unknown turn, a turn of another conversation: one answer.
    if (!conversation) throw new NotFoundError('turn', turnId)
    return conversation
  }
}
