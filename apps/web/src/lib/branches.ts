/**
 * The `‹ 2/3 ›` switcher. `messages.list` gives every turn of the current branch the ids of its
 * siblings (turns sharing its parent, by creation); switching asks the server to move the head
 * down the chosen sibling (`conversations.switchBranch`), which picks that branch's newest turn.
 */
export interface BranchPosition {
  /** 1-based position of the shown turn among its siblings. */
  index: number
  total: number
  previousId: string | null
  nextId: string | null
  label: string
}

export function branchPosition(siblingIds: readonly string[], turnId: string): BranchPosition | null {
  const at = siblingIds.indexOf(turnId)
  if (at < 0 || siblingIds.length < 2) return null
  return {
    index: at + 1,
    total: siblingIds.length,
    previousId: siblingIds[at - 1] ?? null,
    nextId: siblingIds[at + 1] ?? null,
    label: `${at + 1}/${siblingIds.length}`,
  }
}
