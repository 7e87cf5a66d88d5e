import { parseArgs } from 'node:util'
import { startFakeUpstream } from './server.ts'

/**
 * `pnpm fake-upstream [--port N] [--host H] [--tokens N] [--delay-ms N]`
 * Defaults come from FAKE_UPSTREAM_PORT / FAKE_UPSTREAM_TOKENS / FAKE_UPSTREAM_DELAY_MS, so
 * benchmark scripts can configure it without flags. Prints its base URL on the first line.
 */
function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`${name} must be a non-negative integer, got '${raw}'\n`)
    process.exit(2)
  }
  return value
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    tokens: { type: 'string' },
    'delay-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})

if (values.help) {
  process.stdout.write(
    'Usage: fake-upstream [--port N (0 = free port)] [--host 127.0.0.1] [--tokens 20] [--delay-ms 0]\n',
  )
  process.exit(0)
}

const env = process.env
const upstream = await startFakeUpstream({
  port: integer('--port', values.port ?? env['FAKE_UPSTREAM_PORT'], 0),
  host: values.host ?? env['FAKE_UPSTREAM_HOST'] ?? '127.0.0.1',
  tokens: integer('--tokens', values.tokens ?? env['FAKE_UPSTREAM_TOKENS'], 20),
  delayMs: integer('--delay-ms', values['delay-ms'] ?? env['FAKE_UPSTREAM_DELAY_MS'], 0),
  // A long-running benchmark server should not hold every request body.
  keepCalls: 50,
})
process.stdout.write(`${upstream.url}\n`)

const shutdown = () => {
  upstream.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
