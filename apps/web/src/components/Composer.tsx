import { useEffect, useRef } from 'react'

/**
 * Enter sends, Shift+Enter adds a line, Esc stops a running reply. The text is the caller's: it
 * clears it once the message is on its way, and puts it back when the send failed.
 */
export function Composer({
  text,
  onTextChange,
  onSend,
  onStop,
  running,
  disabled,
  placeholder,
}: {
  text: string
  onTextChange: (text: string) => void
  onSend: (text: string) => void
  onStop: () => void
  running: boolean
  disabled?: boolean
  placeholder?: string
}) {
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
      if (event.key !== 'Escape' || event.defaultPrevented) return
      // Esc in another text box (rename, search, edit) is that box's: it must not stop the reply.
      if (event.target !== area.current && isTextEntry(event.target)) return
      event.preventDefault()
      onStop()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [running, onStop])

  const submit = () => {
    const value = text.trim()
    if (!value || running || disabled) return
    onSend(value)
  }

  return (
    <form
      className="composer"
      onSubmit={(event) => {
        event.preventDefault()
        submit()
      }}
    >
      <label htmlFor={COMPOSER_ID} className="visually-hidden">
        Message
      </label>
      <textarea
        id={COMPOSER_ID}
        ref={area}
        rows={1}
        value={text}
        placeholder={placeholder ?? 'Message Parley…'}
        onChange={(event) => onTextChange(event.target.value)}
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

const COMPOSER_ID = 'composer-input'

/**
 * Puts the cursor in the composer once the page has rendered (it may be new, or just enabled
 * again). With `unlessTaken`, only when nothing else has the focus.
 */
export function focusComposer(options: { unlessTaken?: boolean } = {}): void {
  requestAnimationFrame(() => {
    if (options.unlessTaken && document.activeElement !== document.body) return
    document.getElementById(COMPOSER_ID)?.focus()
  })
}

function isTextEntry(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement)
  )
}
