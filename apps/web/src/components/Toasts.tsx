import { createContext, type ReactNode, useCallback, useContext, useMemo, useRef, useState } from 'react'

interface Toast {
  id: number
  text: string
  action?: { label: string; run: () => void }
  /** Called when the toast goes away without its action. */
  onExpire?: () => void
}

interface ToastApi {
  show(toast: Omit<Toast, 'id'>, durationMs?: number): void
}

const ToastContext = createContext<ToastApi | null>(null)

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([])
  const live = useRef<Toast[]>([])
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>())
  const nextId = useRef(1)

  const remove = useCallback((id: number, expired: boolean) => {
    const timer = timers.current.get(id)
    if (timer) clearTimeout(timer)
    timers.current.delete(id)
    const toast = live.current.find((entry) => entry.id === id)
    live.current = live.current.filter((entry) => entry.id !== id)
    setToasts(live.current)
    if (toast && expired) toast.onExpire?.()
  }, [])

  const api = useMemo<ToastApi>(
    () => ({
      show(toast, durationMs = 5000) {
        const id = nextId.current++
        live.current = [...live.current, { ...toast, id }]
        setToasts(live.current)
        timers.current.set(
          id,
          setTimeout(() => remove(id, true), durationMs),
        )
      },
    }),
    [remove],
  )

  return (
    <ToastContext.Provider value={api}>
      {children}
      <section className="toasts" aria-live="polite" aria-label="Notifications">
        {toasts.map((toast) => (
          <div key={toast.id} className="toast">
            <span>{toast.text}</span>
            {toast.action ? (
              <button
                type="button"
                className="ghost small"
                onClick={() => {
                  toast.action?.run()
                  remove(toast.id, false)
                }}
              >
                {toast.action.label}
              </button>
            ) : null}
            <button
              type="button"
              className="icon-button small"
              aria-label="Dismiss notification"
              onClick={() => remove(toast.id, true)}
            >
              ×
            </button>
          </div>
        ))}
      </section>
    </ToastContext.Provider>
  )
}

export function useToasts(): ToastApi {
  const value = useContext(ToastContext)
  if (!value) throw new Error('useToasts outside ToastProvider')
  return value
}
