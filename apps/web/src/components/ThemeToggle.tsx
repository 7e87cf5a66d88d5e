import { useState } from 'react'
import { applyTheme, loadTheme, nextTheme, type ThemeChoice } from '../lib/theme.ts'

const LABELS: Record<ThemeChoice, string> = {
  system: 'System theme',
  light: 'Light theme',
  dark: 'Dark theme',
}

export function ThemeToggle() {
  const [choice, setChoice] = useState<ThemeChoice>(loadTheme)
  const next = nextTheme(choice)
  return (
    <button
      type="button"
      className="icon-button"
      aria-label={`${LABELS[choice]} (switch to ${LABELS[next].toLowerCase()})`}
      title={LABELS[choice]}
      data-theme-choice={choice}
      onClick={() => {
        applyTheme(next)
        setChoice(next)
      }}
    >
      <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
        {choice === 'dark' ? (
          <path d="M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5Z" fill="currentColor" />
        ) : choice === 'light' ? (
          <g stroke="currentColor" strokeWidth="2" strokeLinecap="round" fill="none">
            <circle cx="12" cy="12" r="4" fill="currentColor" />
            <path d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4" />
          </g>
        ) : (
          <g fill="none" stroke="currentColor" strokeWidth="2">
            <circle cx="12" cy="12" r="8" />
            <path d="M12 4a8 8 0 0 1 0 16Z" fill="currentColor" />
          </g>
        )}
      </svg>
    </button>
  )
}
