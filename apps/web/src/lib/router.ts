import { useSyncExternalStore } from 'react'

/** Two screens and a conversation id: a tiny history-API router (the server falls back to index.html). */
export type Route = { name: 'home' } | { name: 'conversation'; id: string } | { name: 'usage' }

export function parseRoute(pathname: string): Route {
  const conversation = /^\/c\/([A-Za-z0-9_]+)\/?$/.exec(pathname)
  if (conversation?.[1]) return { name: 'conversation', id: conversation[1] }
  if (pathname === '/usage' || pathname === '/usage/') return { name: 'usage' }
  return { name: 'home' }
}

export function routePath(route: Route): string {
  switch (route.name) {
    case 'home':
      return '/'
    case 'usage':
      return '/usage'
    case 'conversation':
      return `/c/${route.id}`
  }
}

const listeners = new Set<() => void>()

export function navigate(route: Route, options?: { replace?: boolean }): void {
  const path = routePath(route)
  if (path !== window.location.pathname) {
    if (options?.replace) window.history.replaceState(null, '', path)
    else window.history.pushState(null, '', path)
  }
  for (const listener of listeners) listener()
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener)
  window.addEventListener('popstate', listener)
  return () => {
    listeners.delete(listener)
    window.removeEventListener('popstate', listener)
  }
}

export function useRoute(): Route {
  const pathname = useSyncExternalStore(subscribe, () => window.location.pathname)
  return parseRoute(pathname)
}
