import { createContext, type ReactNode, useContext } from 'react'
import type { Health, ParleyApi } from './types.ts'

interface ApiContextValue {
  api: ParleyApi
  health: Health
  signOut: (() => void) | null
}

const ApiContext = createContext<ApiContextValue | null>(null)

export function ApiProvider({ value, children }: { value: ApiContextValue; children: ReactNode }) {
  return <ApiContext.Provider value={value}>{children}</ApiContext.Provider>
}

export function useApi(): ApiContextValue {
  const value = useContext(ApiContext)
  if (!value) throw new Error('useApi outside ApiProvider')
  return value
}
