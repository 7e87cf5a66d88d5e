import type { TurnError, TurnStatus, Usage } from '@parley/core'
import { memo, useId, useState } from 'react'
import { type TurnPart, turnText } from '../lib/live-turn.ts'
import { copyText, Markdown } from '../lib/markdown.tsx'
import { BranchSwitcher } from './BranchSwitcher.tsx'
import { ToolStep } from './ToolStep.tsx'

export interface DisplayTurn {
  key: string
  /** Null for the optimistic turn before the server answered. */
  turnId: string | null
  userText: string
  userItemId: string | null
  siblingIds: string[]
  status: TurnStatus
  parts: TurnPart[]
  usage: Usage | null
  error: TurnError | null
  model: string | null
  streaming: boolean
}

export interface TurnActions {
  busy: boolean
  onRegenerate(turnId: string): void
  onEdit(turnId: string, text: string): void
  onSwitch(turnId: string): void
  onFork(itemId: string): void
}

export const TurnView = memo(function TurnView({
  turn,
  actions,
}: {
  turn: DisplayTurn
  actions: TurnActions
}) {
  const [editing, setEditing] = useState(false)
  const [draft, setDraft] = useState(turn.userText)
  const editId = useId()
  const replyText = turnText(turn.parts)
  const hasOutput = turn.parts.length > 0
  const waiting = turn.streaming && !hasOutput

  return (
    <article className="turn" data-turn-id={turn.turnId ?? undefined} data-status={turn.status}>
      <div className="message user">
        {editing && turn.turnId ? (
          <form
            className="edit-form"
            onSubmit={(event) => {
              event.preventDefault()
              const text = draft.trim()
              if (text && turn.turnId) actions.onEdit(turn.turnId, text)
              setEditing(false)
            }}
          >
            <label htmlFor={editId} className="visually-hidden">
              Edit message
            </label>
            <textarea
              id={editId}
              value={draft}
              rows={Math.min(8, Math.max(2, draft.split('\n').length))}
              onChange={(event) => setDraft(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === 'Escape') {
                  event.preventDefault()
                  setEditing(false)
                }
              }}
              // biome-ignore lint/a11y/noAutofocus: the field the user just asked for
              autoFocus
            />
            <div className="edit-actions">
              <button type="button" className="ghost small" onClick={() => setEditing(false)}>
                Cancel
              </button>
              <button type="submit" className="primary small" disabled={!draft.trim()}>
                Save & send
              </button>
            </div>
          </form>
        ) : (
          <div className="bubble">{turn.userText}</div>
        )}
        <div className="message-tools">
          <BranchSwitcher
            siblingIds={turn.siblingIds}
            turnId={turn.turnId ?? ''}
            disabled={actions.busy}
            onSwitch={actions.onSwitch}
          />
          {turn.turnId && !editing ? (
            <button
              type="button"
              className="ghost small"
              disabled={actions.busy}
              onClick={() => {
                setDraft(turn.userText)
                setEditing(true)
              }}
            >
              Edit
            </button>
          ) : null}
        </div>
      </div>

      <div className="message assistant" aria-busy={turn.streaming || undefined}>
        <div className="avatar" aria-hidden="true">
          P
        </div>
        <div className="assistant-body">
          {turn.parts.map((part) =>
            part.kind === 'tool' ? (
              <ToolStep key={part.itemId} part={part} />
            ) : (
              <div key={part.itemId} className="reply-text">
                <Markdown text={part.text} />
              </div>
            ),
          )}
          {waiting ? (
            <div className="typing" role="status" aria-label="Parley is replying">
              <span />
              <span />
              <span />
            </div>
          ) : null}
          {turn.status === 'cancelled' ? <p className="note">Stopped.</p> : null}
          {turn.status === 'interrupted' ? <p className="note">This reply was interrupted.</p> : null}
          {turn.status === 'failed' && turn.error ? (
            <p className="error-text" role="alert">
              {turn.error.message}
            </p>
          ) : null}
          {!turn.streaming && turn.turnId ? (
            <div className="reply-footer">
              <div className="reply-actions">
                {replyText ? <CopyButton text={replyText} /> : null}
                <button
                  type="button"
                  className="ghost small"
                  disabled={actions.busy}
                  onClick={() => turn.turnId && actions.onRegenerate(turn.turnId)}
                >
                  Regenerate
                </button>
                {lastItemId(turn) ? (
                  <button
                    type="button"
                    className="ghost small"
                    onClick={() => {
                      const itemId = lastItemId(turn)
                      if (itemId) actions.onFork(itemId)
                    }}
                  >
                    Fork
                  </button>
                ) : null}
              </div>
              {turn.usage ? (
                <span
                  className="usage"
                  title={`${turn.usage.inputTokens} in · ${turn.usage.outputTokens} out`}
                >
                  {turn.usage.totalTokens} tokens{turn.usage.estimated ? ' (est.)' : ''}
                  {turn.model ? ` · ${turn.model}` : ''}
                </span>
              ) : null}
            </div>
          ) : null}
        </div>
      </div>
    </article>
  )
})

/** Forking "at this message" copies history up to the turn's last stored item. */
function lastItemId(turn: DisplayTurn): string | null {
  const last = [...turn.parts].reverse().find((part) => part.itemId.startsWith('item_'))
  return last?.itemId ?? turn.userItemId
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false)
  return (
    <button
      type="button"
      className="ghost small"
      onClick={() => {
        void copyText(text).then((ok) => {
          setCopied(ok)
          if (ok) setTimeout(() => setCopied(false), 1500)
        })
      }}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  )
}
