import { createHash } from 'node:crypto'

/**
 * The request fingerprint: SHA-256 of the canonical JSON of what a client asked for. The same
 * request id with another fingerprint is `idempotency_key_reused`.
 *
 * Only what the client sent counts, never what the server resolved from its own state: a send
 * without `parentTurnId` means "after the head", and the head moves once the turn completes, so
 * a retry would otherwise stop matching its own first attempt.
 */

/** JSON with object keys sorted at every level and `undefined` members left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((entry) => (entry === undefined ? null : sortKeys(entry)))
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) {
      const entry = (value as Record<string, unknown>)[key]
      if (entry !== undefined) sorted[key] = sortKeys(entry)
    }
    return sorted
  }
  return value
}

/**
 * Hex SHA-256. node:crypto rather than Web Crypto: `subtle.digest` goes through a thread-pool
 * job and promise plumbing that cost more than the rest of a short send.
 */
export async function sha256Hex(text: string): Promise<string> {
  return createHash('sha256').update(text).digest('hex')
}

export async function requestFingerprint(request: Record<string, unknown>): Promise<string> {
  return sha256Hex(canonicalJson(request))
}
