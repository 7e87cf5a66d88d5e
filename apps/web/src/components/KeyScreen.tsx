import { useId, useState } from 'react'

export function KeyScreen({ error, onSubmit }: { error: string | null; onSubmit: (key: string) => void }) {
  const [key, setKey] = useState('')
  const inputId = useId()
  const errorId = useId()
  return (
    <main className="key-screen">
      <form
        className="card key-form"
        onSubmit={(event) => {
          event.preventDefault()
          const trimmed = key.trim()
          if (trimmed) onSubmit(trimmed)
        }}
      >
        <div className="brand-mark" aria-hidden="true">
          P
        </div>
        <h1>Sign in to Parley</h1>
        <p className="muted">
          This server asks for an API key. An administrator creates one with the admin command.
        </p>
        <label htmlFor={inputId}>API key</label>
        <input
          id={inputId}
          type="password"
          autoComplete="current-password"
          value={key}
          onChange={(event) => setKey(event.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          // biome-ignore lint/a11y/noAutofocus: the only field of the screen
          autoFocus
        />
        {error ? (
          <p id={errorId} className="error-text" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={!key.trim()}>
          Continue
        </button>
      </form>
    </main>
  )
}
