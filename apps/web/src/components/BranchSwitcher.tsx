import { branchPosition } from '../lib/branches.ts'

export function BranchSwitcher({
  siblingIds,
  turnId,
  disabled,
  onSwitch,
}: {
  siblingIds: readonly string[]
  turnId: string
  disabled: boolean
  onSwitch: (turnId: string) => void
}) {
  const position = branchPosition(siblingIds, turnId)
  if (!position) return null
  return (
    <nav className="branch-switcher" aria-label="Versions of this message">
      <button
        type="button"
        className="icon-button small"
        aria-label="Previous version"
        disabled={disabled || !position.previousId}
        onClick={() => position.previousId && onSwitch(position.previousId)}
      >
        ‹
      </button>
      <span className="branch-label" aria-live="polite">
        {position.label}
      </span>
      <button
        type="button"
        className="icon-button small"
        aria-label="Next version"
        disabled={disabled || !position.nextId}
        onClick={() => position.nextId && onSwitch(position.nextId)}
      >
        ›
      </button>
    </nav>
  )
}
