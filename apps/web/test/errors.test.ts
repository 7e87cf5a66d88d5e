import { describe, expect, it } from 'vitest'
import { canRetry, errorInfo } from '../src/api/types.ts'

describe('errors shown to the user', () => {
  it('offers Retry only where the same request can still succeed', () => {
    const refused = errorInfo({ message: 'Too big', data: { reason: 'validation' } })
    expect(refused).toEqual({ reason: 'validation', message: 'Too big', network: false })
    expect(canRetry(refused)).toBe(false)
    expect(canRetry(errorInfo({ message: 'Request is too large', reason: 'payload_too_large' }))).toBe(false)
    expect(canRetry(errorInfo({ message: 'Busy', data: { reason: 'conversation_busy' } }))).toBe(true)
    const lost = errorInfo(new TypeError('fetch failed'))
    expect(lost).toMatchObject({ network: true, message: 'The server could not be reached' })
    expect(canRetry(lost)).toBe(true)
  })
})
