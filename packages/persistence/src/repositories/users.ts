import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { NotFoundError, newId, safeText, type User, type UserStore } from '@parley/core'
import { and, eq, isNull } from 'drizzle-orm'
import type { Executor } from '../db.ts'
import { guarded } from '../errors.ts'
import { apiKeys, users } from '../schema.ts'
import { check, isId } from '../validate.ts'

/** `pk_<8 chars>` is shown in listings and logs; the secret part never is. */
const KEY_SHAPE = /^(pk_[A-Za-z0-9]{8})_([0-9a-f]{64})$/
const PREFIX_SHAPE = /^pk_[A-Za-z0-9]{8}$/
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const UserName = safeText(200).min(1)

function hashKey(apiKey: string): Buffer {
  return createHash('sha256').update(apiKey).digest()
}

function mintKey(): { apiKey: string; prefix: string; hash: string } {
  const bytes = randomBytes(8)
  let prefix = 'pk_'
  for (const byte of bytes) prefix += ALPHABET[byte % 62]
  // 256 random bits: a fast hash is enough, there is nothing to brute-force.
  const apiKey = `${prefix}_${randomBytes(32).toString('hex')}`
  return { apiKey, prefix, hash: hashKey(apiKey).toString('hex') }
}

function toUser(row: typeof users.$inferSelect): User {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() }
}

export class PgUserStore implements UserStore {
  constructor(private readonly db: Executor) {}

  create(name: string): Promise<{ user: User; apiKey: string }> {
    return guarded(async () => {
      const userName = check('name', UserName, name)
      return this.db.transaction(async (tx) => {
        const [row] = await tx
          .insert(users)
          .values({ id: newId('user'), name: userName })
          .returning()
        if (!row) throw new Error('insert returned nothing')
        const { apiKey } = await insertKey(tx, row.id)
        return { user: toUser(row), apiKey }
      })
    })
  }

  createKey(userId: string): Promise<{ apiKey: string; prefix: string }> {
    return guarded(async () => {
      if (!isId('user', userId)) throw new NotFoundError('user', userId)
      return this.db.transaction(async (tx) => {
        const [row] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId))
        if (!row) throw new NotFoundError('user', userId)
        return insertKey(tx, userId)
      })
    })
  }

  authenticate(apiKey: string): Promise<User | null> {
    return guarded(async () => {
      const match = typeof apiKey === 'string' ? KEY_SHAPE.exec(apiKey) : null
      if (!match?.[1]) return null
      const presented = hashKey(apiKey)
      const candidates = await this.db
        .select({ hash: apiKeys.hash, user: users })
        .from(apiKeys)
        .innerJoin(users, eq(users.id, apiKeys.userId))
        .where(and(eq(apiKeys.prefix, match[1]), isNull(apiKeys.revokedAt)))
      let found: User | null = null
      for (const candidate of candidates) {
        const stored = Buffer.from(candidate.hash, 'hex')
        if (stored.length === presented.length && timingSafeEqual(stored, presented)) {
          found = toUser(candidate.user)
        }
      }
      return found
    })
  }

  revokeKey(userId: string, prefix: string): Promise<boolean> {
    return guarded(async () => {
      if (!isId('user', userId) || typeof prefix !== 'string' || !PREFIX_SHAPE.test(prefix)) return false
      const revoked = await this.db
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiKeys.userId, userId), eq(apiKeys.prefix, prefix), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id })
      return revoked.length > 0
    })
  }

  localUser(): Promise<User> {
    return guarded(async () => {
      // Concurrent first calls all try the insert; the partial unique index keeps exactly one.
      await this.db
        .insert(users)
        .values({ id: newId('user'), name: 'local', isLocal: true })
        .onConflictDoNothing()
      const [row] = await this.db.select().from(users).where(eq(users.isLocal, true))
      if (!row) throw new Error('local user missing after insert')
      return toUser(row)
    })
  }
}

async function insertKey(executor: Executor, userId: string): Promise<{ apiKey: string; prefix: string }> {
  const { apiKey, prefix, hash } = mintKey()
  await executor.insert(apiKeys).values({ id: newId('key'), userId, prefix, hash })
  return { apiKey, prefix }
}
