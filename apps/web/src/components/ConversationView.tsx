import type { BranchTurn, ItemBody } from '@parley/core'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { createPortal } from 'react-dom'
import { useApi } from '../api/context.tsx'
import { canRetry, errorInfo } from '../api/types.ts'
import { getController, useControllerState } from '../lib/controllers.ts'
import { isFinished, partsFromItems } from '../lib/live-turn.ts'
import { navigate } from '../lib/router.ts'
import type { ControllerState } from '../lib/turn-controller.ts'
import { Composer, focusComposer } from './Composer.tsx'
import { useToasts } from './Toasts.tsx'
import { type DisplayTurn, type TurnActions, TurnView } from './TurnView.tsx'

const PAGE = 200

export function ConversationView({ conversationId }: { conversationId: string }) {
  const { api } = useApi()
  const queryClient = useQueryClient()
  const toasts = useToasts()
  const controller = useMemo(
    () => getController(api, queryClient, conversationId),
    [api, queryClient, conversationId],
  )
  const state = useControllerState(controller)

  const conversation = useQuery({
    queryKey: ['conversation', conversationId],
    queryFn: () => api.conversations.get(conversationId),
  })
  const messages = useQuery({
    queryKey: ['messages', conversationId],
    queryFn: async () => {
      // The branch is listed oldest first: fetch every page so the newest turn is shown.
      const turns: BranchTurn[] = []
      let cursor: string | undefined
      do {
        const page = await api.messages.list({ conversationId, limit: PAGE, ...(cursor ? { cursor } : {}) })
        turns.push(...page.data)
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      return turns
    },
  })

  // After a reload: finish this tab's unfinished action (same request id, resume after the last event).
  useEffect(() => {
    controller.resume()
  }, [controller])

  // A reply that some other tab or client started: follow it live from its first event.
  const head = messages.data?.at(-1)
  useEffect(() => {
    if (!head) return
    const running = head.turn.status === 'pending' || head.turn.status === 'streaming'
    if (running && state.live?.turnId !== head.turn.id && !controller.busy) controller.attach(head.turn.id)
  }, [head, state.live?.turnId, controller])

  const switchBranch = useMutation({
    mutationFn: (turnId: string) => api.conversations.switchBranch({ id: conversationId, turnId }),
    onSuccess: () => {
      controller.forget()
      return queryClient.invalidateQueries({ queryKey: ['messages', conversationId] })
    },
    onError: (error) => toasts.show({ text: `Could not switch: ${errorInfo(error).message}` }),
  })
  const fork = useMutation({
    mutationFn: (atItemId: string) => api.conversations.fork({ id: conversationId, atItemId }),
    onSuccess: (forked) => {
      void queryClient.invalidateQueries({ queryKey: ['conversations'] })
      navigate({ name: 'conversation', id: forked.id })
      toasts.show({ text: 'Forked into a new conversation' })
    },
    onError: (error) => toasts.show({ text: `Fork failed: ${errorInfo(error).message}` }),
  })

  const running = state.connection !== 'idle'
  const busy = running || switchBranch.isPending
  const actions = useMemo<TurnActions>(
    () => ({
      busy,
      onRegenerate: (turnId) => controller.start({ kind: 'regenerate', targetTurnId: turnId }),
      onEdit: (turnId, text) => controller.start({ kind: 'edit', targetTurnId: turnId, text }),
      onSwitch: (turnId) => switchBranch.mutate(turnId),
      onFork: (itemId) => fork.mutate(itemId),
    }),
    [busy, controller, switchBranch.mutate, fork.mutate],
  )
  const stop = useCallback(() => void controller.stop(), [controller])

  const [draft, setDraft] = useState('')
  const dismiss = () => {
    const failed = state.action
    controller.dismiss()
    // A message that never became a turn goes back to the composer, to be sent again; anything
    // typed since stays after it.
    if (failed?.kind === 'send' && !failed.turnId) {
      setDraft((current) => (current.trim() ? `${failed.text}\n\n${current}` : failed.text))
    }
    // The composer is enabled again once the error is gone: hand it the focus the button took.
    focusComposer()
  }

  const turns = useMemo(() => displayTurns(messages.data ?? [], state), [messages.data, state])

  // Follow the reply while the reader is at the bottom; leave them alone when they scrolled up.
  const scroller = useRef<HTMLDivElement>(null)
  const pinned = useRef(true)
  useLayoutEffect(() => {
    const element = scroller.current
    if (element && pinned.current) element.scrollTop = element.scrollHeight
  })

  const title = conversation.data?.title || (conversation.isPending ? '' : 'Untitled')
  const titleSlot = typeof document === 'undefined' ? null : document.getElementById('topbar-title')

  if (conversation.isError || messages.isError) {
    const info = errorInfo(conversation.error ?? messages.error)
    return (
      <div className="empty-state" role="alert">
        <h2>{info.reason === 'not_found' ? 'Conversation not found' : 'Could not load this conversation'}</h2>
        <p className="muted">{info.reason === 'not_found' ? 'It may have been deleted.' : info.message}</p>
        <button type="button" className="primary" onClick={() => navigate({ name: 'home' })}>
          Start a new chat
        </button>
      </div>
    )
  }

  return (
    <div className="conversation">
      {titleSlot ? createPortal(<h1 className="conversation-heading">{title}</h1>, titleSlot) : null}
      <div
        className="messages"
        ref={scroller}
        onScroll={(event) => {
          const element = event.currentTarget
          pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80
        }}
      >
        <div className="messages-inner">
          {messages.isPending ? <p className="muted pad">Loading messages…</p> : null}
          {turns.map((turn) => (
            <TurnView key={turn.key} turn={turn} actions={actions} />
          ))}
        </div>
      </div>
      <div className="composer-area">
        {state.connection === 'reconnecting' ? (
          <div className="banner warn" role="status">
            <span className="spinner" aria-hidden="true" /> Reconnecting…
          </div>
        ) : null}
        {state.error ? (
          <div className="banner error" role="alert">
            <span>{state.error.message}</span>
            <span className="banner-actions">
              {state.action && !state.action.turnId && canRetry(state.error) ? (
                <button type="button" className="ghost small" onClick={() => controller.retry()}>
                  Retry
                </button>
              ) : null}
              <button type="button" className="ghost small" onClick={dismiss}>
                Dismiss
              </button>
            </span>
          </div>
        ) : null}
        <Composer
          text={draft}
          onTextChange={setDraft}
          running={running}
          onStop={stop}
          onSend={(text) => {
            controller.start({ kind: 'send', text })
            setDraft('')
          }}
          disabled={messages.isPending || state.error !== null}
        />
      </div>
    </div>
  )
}

/**
 * The branch as stored, with the live reply laid over its turn. Until the list is refetched the
 * new turn is not in it: then an optimistic entry stands in (cut at the target for regenerate
 * and edit, whose new turn replaces the target's place in the branch).
 */
export function displayTurns(branch: readonly BranchTurn[], state: ControllerState): DisplayTurn[] {
  const { live, action } = state
  const running = state.connection !== 'idle'
  let turns = branch.map((entry): DisplayTurn => {
    const stored = storedTurn(entry)
    if (live && live.turnId === entry.turn.id && (!isTerminalStatus(entry.turn.status) || running)) {
      return {
        ...stored,
        status: live.status,
        parts: live.parts.length > 0 || !isFinished(live) ? live.parts : stored.parts,
        usage: live.usage ?? stored.usage,
        error: live.error ?? stored.error,
        streaming: !isFinished(live),
      }
    }
    return stored
  })
  const listed = live ? branch.some((entry) => entry.turn.id === live.turnId) : true
  const unlisted = live ? !listed : running || state.error !== null
  if (action && unlisted) {
    if (action.kind !== 'send') {
      const at = turns.findIndex((turn) => turn.turnId === action.targetTurnId)
      if (at >= 0) turns = turns.slice(0, at)
    }
    const target =
      action.kind === 'send' ? null : branch.find((entry) => entry.turn.id === action.targetTurnId)
    const userText = action.kind === 'regenerate' ? (target ? storedTurn(target).userText : '') : action.text
    turns.push({
      key: `pending:${action.requestId}`,
      turnId: live && !listed ? live.turnId : null,
      userText,
      userItemId: null,
      siblingIds: [],
      status: live?.status ?? 'pending',
      parts: live?.parts ?? [],
      usage: live?.usage ?? null,
      error: live?.error ?? null,
      model: live?.model ?? null,
      streaming: !live || !isFinished(live),
    })
  }
  return turns
}

function isTerminalStatus(status: string): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled' || status === 'interrupted'
}

function storedTurn(entry: BranchTurn): DisplayTurn {
  const userItems = entry.input.filter((item) => item.type === 'message' && item.role === 'user')
  return {
    key: entry.turn.id,
    turnId: entry.turn.id,
    userText: userItems.map(userText).join('\n\n'),
    userItemId: userItems.at(-1)?.id ?? null,
    siblingIds: entry.siblingIds,
    status: entry.turn.status,
    parts: partsFromItems(entry.output),
    usage: entry.turn.usage,
    error: entry.turn.error,
    model: entry.turn.model,
    streaming: entry.turn.status === 'pending' || entry.turn.status === 'streaming',
  }
}

// Local on purpose: importing values from @parley/core would pull its zod schemas into the bundle.
function userText(item: ItemBody): string {
  if (item.type !== 'message') return ''
  return item.content
    .map((part) => (part.type === 'input_text' || part.type === 'output_text' ? part.text : ''))
    .join('')
}
