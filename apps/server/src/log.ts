import { type Logger, pino } from 'pino'
import type { ServerConfig } from './config.ts'

/**
 * JSON logs. Keys and message bodies never reach them: authorization headers and API keys are
 * redacted wherever they appear, and procedures log ids and statuses, not inputs.
 */
export function createLogger(level: ServerConfig['logLevel']): Logger {
  return pino({
    level,
    base: { service: 'parley' },
    redact: {
      paths: [
        'authorization',
        'apiKey',
        'connectionParams',
        'headers.authorization',
        'req.headers.authorization',
        '*.apiKey',
        '*.authorization',
      ],
      censor: '[redacted]',
    },
  })
}
