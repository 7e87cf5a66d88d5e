import type { Conversation } from '@parley/core'
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query'
import { useEffect, useId, useRef, useState } from 'react'
import { useApi } from '../api/context.tsx'
import { errorInfo } from '../api/types.ts'
import { navigate } from '../lib/router.ts'
import { focusComposer } from './Composer.tsx'
import { useToasts } from './Toasts.tsx'

const PAGE_SIZE = 30
const UNDO_MS = 5000

export function Sidebar({ activeId, onClose }: { activeId: string | null; onClose: () => void }) {
  const { api, signOut } = useApi()
  const queryClient = useQueryClient()
  const toasts = useToasts()
  const searchId = useId()
  const [search, setSearch] = useState('')
  const [query, setQuery] = useState('')
  // Deleted but still undoable: hidden here, deleted on the server when the undo window ends.
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set())
  const pendingDeletes = useRef(new Map<string, () => void>())

  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 250)
    return () => clearTimeout(timer)
  }, [search])

  // Leaving the page inside the undo window still deletes.
  useEffect(() => {
    const flush = () => {
      for (const commit of pendingDeletes.current.values()) commit()
    }
    window.addEventListener('pagehide', flush)
    return () => window.removeEventListener('pagehide', flush)
  }, [])

  const list = useInfiniteQuery({
    queryKey: ['conversations', query],
    queryFn: ({ pageParam }) =>
      api.conversations.list({
        limit: PAGE_SIZE,
        ...(pageParam ? { cursor: pageParam } : {}),
        ...(query ? { search: query } : {}),
      }),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.nextCursor,
  })

  const rename = useMutation({
    mutationFn: (input: { id: string; title: string }) => api.conversations.update(input),
    onSuccess: (conversation) => {
      queryClient.setQueryData(['conversation', conversation.id], conversation)
      void queryClient.invalidateQueries({ queryKey: ['conversations'] })
    },
    onError: (error) => toasts.show({ text: `Rename failed: ${errorInfo(error).message}` }),
  })

  const remove = (conversation: Conversation) => {
    setHidden((set) => new Set(set).add(conversation.id))
    if (conversation.id === activeId) navigate({ name: 'home' })
    let done = false
    const commit = () => {
      if (done) return
      done = true
      pendingDeletes.current.delete(conversation.id)
      api.conversations
        .delete(conversation.id)
        .catch((error: unknown) => {
          if (errorInfo(error).reason !== 'not_found') {
            toasts.show({ text: `Delete failed: ${errorInfo(error).message}` })
            setHidden((set) => {
              const next = new Set(set)
              next.delete(conversation.id)
              return next
            })
          }
        })
        .finally(() => {
          void queryClient.invalidateQueries({ queryKey: ['conversations'] })
        })
    }
    pendingDeletes.current.set(conversation.id, commit)
    toasts.show(
      {
        text: `Deleted “${conversation.title || 'Untitled'}”`,
        action: {
          label: 'Undo',
          run: () => {
            done = true
            pendingDeletes.current.delete(conversation.id)
            setHidden((set) => {
              const next = new Set(set)
              next.delete(conversation.id)
              return next
            })
          },
        },
        onExpire: commit,
      },
      UNDO_MS,
    )
  }

  const conversations = (list.data?.pages.flatMap((page) => page.data) ?? []).filter((c) => !hidden.has(c.id))

  return (
    <aside className="sidebar" aria-label="Conversations">
      <div className="sidebar-head">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          <span>Parley</span>
        </div>
        <button
          type="button"
          className="icon-button sidebar-close"
          aria-label="Close conversations"
          onClick={onClose}
        >
          ×
        </button>
      </div>
      <button
        type="button"
        className="primary new-chat"
        onClick={() => {
          navigate({ name: 'home' })
          onClose()
          focusComposer()
        }}
      >
        + New chat
      </button>
      <div className="search">
        <label htmlFor={searchId} className="visually-hidden">
          Search conversations
        </label>
        <input
          id={searchId}
          type="search"
          placeholder="Search conversations"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Escape') setSearch('')
          }}
        />
      </div>
      <nav className="conversation-list" aria-label="Conversation list">
        {list.isPending ? <p className="muted pad">Loading…</p> : null}
        {list.isError ? (
          <p className="error-text pad" role="alert">
            {errorInfo(list.error).message}
          </p>
        ) : null}
        {list.isSuccess && conversations.length === 0 ? (
          <p className="muted pad">{query ? 'No conversation matches.' : 'No conversations yet.'}</p>
        ) : null}
        <ul>
          {conversations.map((conversation) => (
            <ConversationRow
              key={conversation.id}
              conversation={conversation}
              active={conversation.id === activeId}
              onRename={(title) => rename.mutate({ id: conversation.id, title })}
              onDelete={() => remove(conversation)}
            />
          ))}
        </ul>
        {list.hasNextPage ? (
          <button
            type="button"
            className="ghost load-more"
            disabled={list.isFetchingNextPage}
            onClick={() => void list.fetchNextPage()}
          >
            {list.isFetchingNextPage ? 'Loading…' : 'Load more'}
          </button>
        ) : null}
      </nav>
      {signOut ? (
        <div className="sidebar-foot">
          <button type="button" className="ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      ) : null}
    </aside>
  )
}

function ConversationRow({
  conversation,
  active,
  onRename,
  onDelete,
}: {
  conversation: Conversation
  active: boolean
  onRename: (title: string) => void
  onDelete: () => void
}) {
  const [editing, setEditing] = useState(false)
  const [title, setTitle] = useState(conversation.title)
  const inputId = useId()
  const title_ = conversation.title || 'Untitled'

  if (editing) {
    return (
      <li className="conversation-row editing">
        <form
          onSubmit={(event) => {
            event.preventDefault()
            const next = title.trim()
            if (next && next !== conversation.title) onRename(next)
            setEditing(false)
          }}
        >
          <label htmlFor={inputId} className="visually-hidden">
            New title
          </label>
          <input
            id={inputId}
            value={title}
            maxLength={512}
            onChange={(event) => setTitle(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Escape') setEditing(false)
            }}
            // biome-ignore lint/a11y/noAutofocus: the field the user just asked for
            autoFocus
          />
          <button type="submit" className="ghost small">
            Save
          </button>
        </form>
      </li>
    )
  }
  return (
    <li className={`conversation-row${active ? ' active' : ''}`}>
      <a
        href={`/c/${conversation.id}`}
        aria-current={active ? 'page' : undefined}
        onClick={(event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return
          event.preventDefault()
          navigate({ name: 'conversation', id: conversation.id })
        }}
      >
        <span className="conversation-title">{title_}</span>
        <time className="conversation-time" dateTime={conversation.updatedAt}>
          {relativeTime(conversation.updatedAt)}
        </time>
      </a>
      <div className="row-actions">
        <button
          type="button"
          className="icon-button small"
          aria-label={`Rename ${title_}`}
          title="Rename"
          onClick={() => {
            setTitle(conversation.title)
            setEditing(true)
          }}
        >
          <svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true">
            <path
              d="M4 20h4L19 9l-4-4L4 16v4Z"
              fill="none"
              stroke="currentColor"
              strokeWidth="2"
              strokeLinejoin="round"
            />
          </svg>
        </button>
        <button
          type="button"
          className="icon-button small"
          aria-label={`Delete ${title_}`}
          title="Delete"
          onClick={onDelete}
        >
          <svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true">
            <path
              d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13"
              fill="none"
              stroke="currentColor"
              strokeWidth="2"
              strokeLinejoin="round"
            />
          </svg>
        </button>
      </div>
    </li>
  )
}

function relativeTime(iso: string): string {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000)
  if (seconds < 60) return 'now'
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`
  if (seconds < 7 * 86_400) return `${Math.floor(seconds / 86_400)}d`
  return new Date(iso).toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
}
