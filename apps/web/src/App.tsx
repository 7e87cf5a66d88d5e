import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query'
import { useCallback, useEffect, useMemo, useState } from 'react'
import { connect } from './api/connect.ts'
import { ApiProvider } from './api/context.tsx'
import { errorInfo, type Health } from './api/types.ts'
import { KeyScreen } from './components/KeyScreen.tsx'
import { Shell } from './components/Shell.tsx'
import { disposeControllers, flushControllers } from './lib/controllers.ts'
import { clearAllPending } from './lib/pending.ts'
import { navigate } from './lib/router.ts'

const KEY_STORAGE = 'parley.apiKey'

function readKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE)
  } catch {
    return null
  }
}

function writeKey(key: string | null): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key)
    else localStorage.removeItem(KEY_STORAGE)
  } catch {
    // Without storage the key lasts for this page only.
  }
}

export function App() {
  const [apiKey, setApiKey] = useState<string | null>(readKey)
  const changeKey = useCallback((key: string | null) => {
    writeKey(key)
    // An unfinished action holds its text: it must not resume under the next key. The controllers
    // go first, since disposing one saves its action a last time.
    disposeControllers()
    clearAllPending(window.sessionStorage)
    setApiKey(key)
  }, [])
  // Keyed by the API key: the next user starts with an empty cache and fresh screens, so nothing
  // fetched or typed under one key can show under another.
  return <Session key={apiKey ?? ''} apiKey={apiKey} onKey={changeKey} />
}

function Session({ apiKey, onKey }: { apiKey: string | null; onKey: (key: string | null) => void }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: {
            staleTime: 5_000,
            retry: (count, error) => count < 3 && errorInfo(error).network,
          },
        },
      }),
  )
  return (
    <QueryClientProvider client={queryClient}>
      <AuthGate apiKey={apiKey} onKey={onKey} />
    </QueryClientProvider>
  )
}

/** `local` mode needs nothing; `keys` mode asks for a key and checks it before showing the app. */
function AuthGate({ apiKey, onKey }: { apiKey: string | null; onKey: (key: string | null) => void }) {
  const api = useMemo(() => connect({ apiKey }), [apiKey])
  useEffect(() => {
    const flush = () => flushControllers()
    window.addEventListener('pagehide', flush)
    return () => {
      window.removeEventListener('pagehide', flush)
      disposeControllers()
      api.close()
    }
  }, [api])

  const health = useQuery({ queryKey: ['health', apiKey], queryFn: () => api.health(), retry: 2 })
  const needsKey = health.data?.auth === 'keys'
  const check = useQuery({
    queryKey: ['key-check', apiKey],
    queryFn: () => api.conversations.list({ limit: 1 }),
    enabled: needsKey && apiKey !== null,
    retry: (count, error) => count < 2 && errorInfo(error).network,
  })
  const signOut = useCallback(() => {
    // The next user starts on a new chat, not on a page of this user's.
    navigate({ name: 'home' })
    onKey(null)
  }, [onKey])

  if (health.isPending) return <Splash text="Connecting to Parley…" />
  if (health.isError) {
    return (
      <Splash
        text="The Parley server could not be reached."
        action={{ label: 'Try again', run: () => void health.refetch() }}
      />
    )
  }
  const info: Health = health.data
  if (info.auth === 'keys') {
    const rejected = check.isError && errorInfo(check.error).reason === 'unauthenticated'
    if (!apiKey || rejected) {
      return (
        <KeyScreen
          error={rejected ? 'That API key was not accepted. Check it and try again.' : null}
          onSubmit={onKey}
        />
      )
    }
    if (check.isPending) return <Splash text="Checking your key…" />
    if (check.isError) {
      return (
        <Splash
          text={errorInfo(check.error).message}
          action={{ label: 'Try again', run: () => void check.refetch() }}
        />
      )
    }
  }
  return (
    <ApiProvider value={{ api, health: info, signOut: info.auth === 'keys' ? signOut : null }}>
      <Shell />
    </ApiProvider>
  )
}

function Splash({ text, action }: { text: string; action?: { label: string; run: () => void } }) {
  return (
    <div className="splash" role="status">
      <div className="brand-mark" aria-hidden="true">
        P
      </div>
      <p>{text}</p>
      {action ? (
        <button type="button" className="primary" onClick={action.run}>
          {action.label}
        </button>
      ) : null}
    </div>
  )
}
