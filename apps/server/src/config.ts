import { resolve } from 'node:path'
import { z } from 'zod'

export const PROVIDER_KINDS = ['scripted', 'openai-responses', 'openai-chat'] as const
export type ProviderKind = (typeof PROVIDER_KINDS)[number]
export type AuthMode = 'local' | 'keys'

/** Everything the server needs to know from its environment (DESIGN.md, "Interfaces that must stay stable"). */
export interface ServerConfig {
  port: number
  host: string
  /** Postgres; null → embedded PGlite in `dataDir`. */
  databaseUrl: string | null
  dataDir: string
  provider: ProviderKind
  openaiApiKey: string | null
  openaiBaseUrl: string | null
  /** Default model; null → the provider's own default. */
  model: string | null
  auth: AuthMode
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /**
   * A running turn's lease (`PARLEY_LEASE_MS`, default 30 s): how long after a crash its turn is
   * marked `interrupted`. Shorter means faster recovery and more lease renewals.
   */
  leaseMs?: number
  /** Requests per user per minute, token bucket (`PARLEY_RATE_LIMIT_PER_MIN`); 0 = off. */
  rateLimitPerMin?: number
  /** Concurrent streams per user (`PARLEY_MAX_STREAMS_PER_USER`); 0 = no cap. */
  maxStreamsPerUser?: number
}

/** Limits of the process started from the environment (embedders of `createParleyServer` choose their own). */
export const DEFAULT_RATE_LIMIT_PER_MIN = 600
export const DEFAULT_MAX_STREAMS_PER_USER = 16

/** A configuration the server refuses to start with; `message` is one line meant for the operator. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

// An empty variable (`PORT=`) means "not set", as it does for most twelve-factor tools.
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional())

const Env = z.object({
  PORT: optional(z.coerce.number().int().min(0).max(65_535)),
  HOST: optional(z.string().min(1)),
  DATABASE_URL: optional(
    z.string().regex(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// URL' }),
  ),
  PARLEY_DATA_DIR: optional(z.string().min(1)),
  PARLEY_PROVIDER: optional(z.enum(PROVIDER_KINDS)),
  OPENAI_API_KEY: optional(z.string().min(1)),
  OPENAI_BASE_URL: optional(z.url({ protocol: /^https?$/ })),
  PARLEY_MODEL: optional(z.string().min(1).max(128)),
  PARLEY_AUTH: optional(z.enum(['local', 'keys'])),
  PARLEY_LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  PARLEY_LEASE_MS: optional(z.coerce.number().int().min(100).max(3_600_000)),
  PARLEY_RATE_LIMIT_PER_MIN: optional(z.coerce.number().int().min(0).max(1_000_000)),
  PARLEY_MAX_STREAMS_PER_USER: optional(z.coerce.number().int().min(0).max(10_000)),
})

/** 127.0.0.0/8, ::1 and localhost: the only hosts where `PARLEY_AUTH=local` is allowed. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare)
}

/** Parses the environment; throws `ConfigError` with a one-line message naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const parsed = Env.safeParse(env)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const name = issue?.path.join('.') ?? 'environment'
    throw new ConfigError(`Invalid ${name}: ${issue?.message ?? 'invalid value'}`)
  }
  const e = parsed.data
  const host = e.HOST ?? '127.0.0.1'
  const provider: ProviderKind = e.PARLEY_PROVIDER ?? (e.OPENAI_API_KEY ? 'openai-responses' : 'scripted')
  if (provider !== 'scripted' && !e.OPENAI_API_KEY && !e.OPENAI_BASE_URL) {
    throw new ConfigError(
      `PARLEY_PROVIDER=${provider} needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server)`,
    )
  }
  return resolveConfig({
    port: e.PORT ?? 3000,
    host,
    databaseUrl: e.DATABASE_URL ?? null,
    // Relative to where the user ran the command: `pnpm start` runs this in apps/server.
    dataDir: resolve(env.INIT_CWD ?? process.cwd(), e.PARLEY_DATA_DIR ?? './.parley'),
    provider,
    openaiApiKey: e.OPENAI_API_KEY ?? null,
    openaiBaseUrl: e.OPENAI_BASE_URL ?? null,
    model: e.PARLEY_MODEL ?? null,
    auth: e.PARLEY_AUTH,
    logLevel: e.PARLEY_LOG_LEVEL ?? 'info',
    leaseMs: e.PARLEY_LEASE_MS ?? 30_000,
    rateLimitPerMin: e.PARLEY_RATE_LIMIT_PER_MIN ?? DEFAULT_RATE_LIMIT_PER_MIN,
    maxStreamsPerUser: e.PARLEY_MAX_STREAMS_PER_USER ?? DEFAULT_MAX_STREAMS_PER_USER,
  })
}

/** Fills the auth default and refuses `local` auth where the network can reach it. */
export function resolveConfig(
  config: Omit<ServerConfig, 'auth'> & { auth?: AuthMode | undefined },
): ServerConfig {
  const loopback = isLoopbackHost(config.host)
  const auth = config.auth ?? (loopback ? 'local' : 'keys')
  if (auth === 'local' && !loopback) {
    throw new ConfigError(
      `PARLEY_AUTH=local is refused on HOST=${config.host}: without keys anyone who can reach the port is the user; use PARLEY_AUTH=keys or a loopback HOST`,
    )
  }
  return { ...config, auth }
}
