import { InternalError, ParleyError } from '@parley/core'

/** SQLSTATE of a driver error, looking through drizzle's query-error wrapper. */
export function sqlState(error: unknown): string | null {
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return null
}

export const UNIQUE_VIOLATION = '23505'
export const FOREIGN_KEY_VIOLATION = '23503'

/**
 * Runs a store method so that nothing but a ParleyError leaves it: driver errors carry SQL text
 * and parameters, which must never reach a client or a log line meant for one.
 */
export async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof ParleyError) throw error
    throw new InternalError('Storage error')
  }
}
