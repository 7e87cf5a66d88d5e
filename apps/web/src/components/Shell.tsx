import { useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useState } from 'react'
import { useApi } from '../api/context.tsx'
import { getController, type TabMessage, useTabMessages } from '../lib/controllers.ts'
import { navigate, useRoute } from '../lib/router.ts'
import { ConversationView } from './ConversationView.tsx'
import { HomeView } from './HomeView.tsx'
import { Sidebar } from './Sidebar.tsx'
import { ThemeToggle } from './ThemeToggle.tsx'
import { ToastProvider } from './Toasts.tsx'
import { UsageView } from './UsageView.tsx'

export function Shell() {
  const route = useRoute()
  const { api } = useApi()
  const queryClient = useQueryClient()
  const [sidebarOpen, setSidebarOpen] = useState(false)

  // Another tab started or finished a turn: refresh, and follow it if that conversation is open.
  const onTabMessage = useCallback(
    (message: TabMessage) => {
      void queryClient.invalidateQueries({ queryKey: ['conversations'] })
      void queryClient.invalidateQueries({ queryKey: ['messages', message.conversationId] })
      if (message.type === 'turn' && route.name === 'conversation' && route.id === message.conversationId) {
        getController(api, queryClient, message.conversationId).attach(message.turnId)
      }
    },
    [api, queryClient, route],
  )
  useTabMessages(onTabMessage)

  const routeKey = route.name === 'conversation' ? route.id : route.name
  useEffect(() => setSidebarOpen(false), [routeKey])

  return (
    <ToastProvider>
      <div className={`app${sidebarOpen ? ' sidebar-open' : ''}`}>
        <a className="skip-link" href="#main">
          Skip to conversation
        </a>
        <Sidebar
          activeId={route.name === 'conversation' ? route.id : null}
          onClose={() => setSidebarOpen(false)}
        />
        <button
          type="button"
          className="scrim"
          aria-label="Close sidebar"
          tabIndex={-1}
          onClick={() => setSidebarOpen(false)}
        />
        <div className="main-column">
          <header className="topbar">
            <button
              type="button"
              className="icon-button menu-button"
              aria-label="Open conversations"
              aria-expanded={sidebarOpen}
              onClick={() => setSidebarOpen(true)}
            >
              <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                <path
                  d="M4 6h16M4 12h16M4 18h16"
                  stroke="currentColor"
                  strokeWidth="2"
                  strokeLinecap="round"
                />
              </svg>
            </button>
            <div className="topbar-title" id="topbar-title" />
            <nav className="topbar-actions" aria-label="App">
              <button
                type="button"
                className={`ghost${route.name === 'usage' ? ' active' : ''}`}
                onClick={() => navigate({ name: 'usage' })}
              >
                Usage
              </button>
              <ThemeToggle />
            </nav>
          </header>
          <main id="main" className="content" tabIndex={-1}>
            {route.name === 'conversation' ? (
              <ConversationView key={route.id} conversationId={route.id} />
            ) : route.name === 'usage' ? (
              <UsageView />
            ) : (
              <HomeView />
            )}
          </main>
        </div>
      </div>
    </ToastProvider>
  )
}
