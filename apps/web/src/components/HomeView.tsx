import { shortened } from '@parley/core'
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useApi } from '../api/context.tsx'
import { errorInfo } from '../api/types.ts'
import { getController } from '../lib/controllers.ts'
import { navigate } from '../lib/router.ts'
import { Composer, focusComposer } from './Composer.tsx'

const SUGGESTIONS = ['Explain idempotent requests with an example', 'calc: 17 * 23 + 4', 'what time is it?']

/** A new chat: the conversation is created on the first send, titled after the message. */
export function HomeView() {
  const { api, health } = useApi()
  const queryClient = useQueryClient()
  const [error, setError] = useState<string | null>(null)
  const [creating, setCreating] = useState(false)
  const [draft, setDraft] = useState('')

  // The page is left only once the message is a turn: a failed send leaves no empty conversation
  // behind and keeps its text in the composer, to be sent again.
  const send = async (text: string) => {
    setCreating(true)
    setError(null)
    const failed = (message: string) => {
      setError(message)
      setDraft((current) => (current.trim() ? current : text))
    }
    try {
      const conversation = await api.conversations.create({ title: titleFrom(text) })
      const controller = getController(api, queryClient, conversation.id)
      const failure = await controller.started(controller.start({ kind: 'send', text }))
      if (failure) {
        controller.dismiss()
        await api.conversations.delete(conversation.id).catch(() => undefined)
        void queryClient.invalidateQueries({ queryKey: ['conversations'] })
        failed(failure.message)
        return
      }
      queryClient.setQueryData(['conversation', conversation.id], conversation)
      void queryClient.invalidateQueries({ queryKey: ['conversations'] })
      navigate({ name: 'conversation', id: conversation.id })
      // The composer the user typed in is gone with this page: carry on in the new one.
      focusComposer({ unlessTaken: true })
    } catch (caught) {
      failed(errorInfo(caught).message)
    } finally {
      setCreating(false)
    }
  }

  return (
    <div className="conversation home">
      <div className="messages">
        <div className="messages-inner hero">
          <div className="brand-mark large" aria-hidden="true">
            P
          </div>
          <h1>What can I help with?</h1>
          <p className="muted">
            {health.provider === 'scripted'
              ? 'The demo model is running: replies are scripted, no API key needed.'
              : `Model: ${health.model}`}
          </p>
          <ul className="suggestions">
            {SUGGESTIONS.map((suggestion) => (
              <li key={suggestion}>
                <button
                  type="button"
                  className="suggestion"
                  disabled={creating}
                  onClick={() => void send(suggestion)}
                >
                  {suggestion}
                </button>
              </li>
            ))}
          </ul>
        </div>
      </div>
      <div className="composer-area">
        {error ? (
          <div className="banner error" role="alert">
            {error}
          </div>
        ) : null}
        <Composer
          text={draft}
          onTextChange={setDraft}
          running={false}
          onStop={() => {}}
          onSend={(text) => void send(text)}
          disabled={creating}
        />
      </div>
    </div>
  )
}

export function titleFrom(text: string): string {
  const line = text.split('\n').find((entry) => entry.trim()) ?? 'New chat'
  const trimmed = line.trim().replace(/\s+/g, ' ')
  return shortened(trimmed, 60)
}
