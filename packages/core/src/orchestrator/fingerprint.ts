import type * as NodeCrypto from 'node:crypto'

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
 * node:crypto when running in Node, found at run time: a static import would break the web
 * app's bundle, which includes this module. `process.getBuiltinModule` exists from Node 20.16.
 */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined

/**
 * Hex SHA-256. In Node through node:crypto: Web Crypto's `subtle.digest` goes through a
 * thread-pool job and promise plumbing that cost more than the rest of a short send.
 */
export async function sha256Hex(text: string): Promise<string> {
  if (nodeCrypto) return nodeCrypto.createHash('sha256').update(text).digest('hex')
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('')
}

export async function requestFingerprint(request: Record<string, unknown>): Promise<string> {
  return sha256Hex(canonicalJson(request))
}
