import { useEffect, useRef, useState } from 'react'

/** Enter sends, Shift+Enter adds a line, Esc stops a running reply. */
export function Composer({
  onSend,
  onStop,
  running,
  disabled,
  placeholder,
}: {
  onSend: (text: string) => void
  onStop: () => void
  running: boolean
  disabled?: boolean
  placeholder?: string
}) {
  const [text, setText] = useState('')
  const area = useRef<HTMLTextAreaElement>(null)

  // Grow with the text up to a limit, then scroll.
  useEffect(() => {
    const element = area.current
    if (!element) return
    element.style.height = 'auto'
    element.style.height = `${Math.min(element.scrollHeight, 240)}px`
  }, [text])

  useEffect(() => {
    if (!running) return
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.defaultPrevented) {
        event.preventDefault()
        onStop()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [running, onStop])

  const submit = () => {
    const value = text.trim()
    if (!value || running || disabled) return
    onSend(value)
    setText('')
  }

  return (
    <form
      className="composer"
      onSubmit={(event) => {
        event.preventDefault()
        submit()
      }}
    >
      <label htmlFor="composer-input" className="visually-hidden">
        Message
      </label>
      <textarea
        id="composer-input"
        ref={area}
        rows={1}
        value={text}
        placeholder={placeholder ?? 'Message Parley…'}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
            event.preventDefault()
            submit()
          }
        }}
        aria-describedby="composer-hint"
      />
      {running ? (
        <button type="button" className="stop" onClick={onStop} aria-label="Stop generating (Esc)">
          <svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true">
            <rect x="6" y="6" width="12" height="12" rx="2" fill="currentColor" />
          </svg>
          Stop
        </button>
      ) : (
        <button
          type="submit"
          className="primary send"
          disabled={!text.trim() || disabled}
          aria-label="Send message"
        >
          <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
            <path
              d="M4 12h14M12 5l7 7-7 7"
              fill="none"
              stroke="currentColor"
              strokeWidth="2.2"
              strokeLinecap="round"
            />
          </svg>
        </button>
      )}
      <p id="composer-hint" className="composer-hint">
        Enter to send · Shift+Enter for a new line{running ? ' · Esc to stop' : ''}
      </p>
    </form>
  )
}
