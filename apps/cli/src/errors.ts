import { isParleyClientError } from '@parley/client'

/**
 * Exit codes, stable for scripts (documented in README.md):
 * 0 success · 1 the turn failed (or was cancelled or interrupted) · 2 usage or invalid input ·
 * 3 authentication · 4 not found · 5 server or connection · 6 conflict.
 */
export const EXIT = {
  ok: 0,
  turnFailed: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  server: 5,
  conflict: 6,
} as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** An error meant for the user: one line on stderr and an exit code, never a stack. */
export class CliError extends Error {
  readonly exitCode: ExitCode
  readonly reason: string
  constructor(exitCode: ExitCode, message: string, reason = 'cli') {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
    this.reason = reason
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(EXIT.usage, message, 'usage')
  }
}

const EXIT_BY_REASON: Record<string, ExitCode> = {
  validation: EXIT.usage,
  payload_too_large: EXIT.usage,
  unauthenticated: EXIT.auth,
  not_found: EXIT.notFound,
  idempotency_key_reused: EXIT.conflict,
  conversation_busy: EXIT.conflict,
}

/** Any error → the CliError to report. `url` names the server in connection errors. */
export function toCliError(error: unknown, url: string): CliError {
  if (error instanceof CliError) return error
  if (isParleyClientError(error)) {
    if (error.reason === 'network' || error.reason === 'unavailable') {
      return new CliError(
        EXIT.server,
        `cannot reach the Parley server at ${url} (is it running? set --url or PARLEY_URL)`,
        error.reason,
      )
    }
    if (error.reason === 'unauthenticated') {
      return new CliError(EXIT.auth, `${error.message} (set --api-key or PARLEY_API_KEY)`, error.reason)
    }
    const issue = error.issues[0]
    const detail = error.reason === 'validation' && issue && !error.message.includes(issue.message)
    const message = detail
      ? `${error.message} (${issue.path ? `${issue.path}: ` : ''}${issue.message})`
      : error.message
    return new CliError(EXIT_BY_REASON[error.reason] ?? EXIT.server, message, error.reason)
  }
  return new CliError(
    EXIT.server,
    `unexpected error: ${error instanceof Error ? error.message : String(error)}`,
    'internal',
  )
}
