import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { User, UserStore } from '@parley/core'
import type { AuthMode } from './config.ts'

/** The key of `Authorization: Bearer <key>`, or null. */
export function bearerToken(headers: IncomingHttpHeaders): string | null {
  const header = headers.authorization
  if (!header) return null
  const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header)
  return match?.[1] ?? null
}

interface CachedUser {
  user: User
  expiresAt: number
}

/**
 * Resolves the caller. `local` mode: the one implicit user, whatever is sent. `keys` mode: the
 * owner of a valid API key, else null.
 *
 * Successful lookups are cached for a few seconds under the key's SHA-256 (never the key
 * itself): a key check is a database round trip plus a hash comparison, and an HTTP client
 * sends its key with every call. The price is that a revoked key keeps working for up to
 * `cacheMs` on an instance that saw it recently.
 */
export class Authenticator {
  private readonly cache = new Map<string, CachedUser>()
  private local: Promise<User> | null = null

  constructor(
    readonly mode: AuthMode,
    private readonly users: UserStore,
    private readonly cacheMs = 5_000,
  ) {}

  async authenticate(apiKey: string | null | undefined): Promise<User | null> {
    if (this.mode === 'local') {
      this.local ??= this.users.localUser().catch((error: unknown) => {
        this.local = null
        throw error
      })
      return this.local
    }
    if (!apiKey) return null
    const digest = createHash('sha256').update(apiKey).digest('base64url')
    const now = Date.now()
    const cached = this.cache.get(digest)
    if (cached && cached.expiresAt > now) return cached.user
    const user = await this.users.authenticate(apiKey)
    if (user) {
      if (this.cache.size > 10_000) this.cache.clear()
      this.cache.set(digest, { user, expiresAt: now + this.cacheMs })
    } else {
      this.cache.delete(digest)
    }
    return user
  }
}
