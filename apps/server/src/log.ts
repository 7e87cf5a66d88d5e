import { type DestinationStream, type Logger, pino } from 'pino'
import type { ServerConfig } from './config.ts'

/**
 * JSON logs. Keys and message bodies never reach them: authorization headers and API keys are
 * redacted wherever they appear, and procedures log ids and statuses, not inputs.
 */
export function createLogger(level: ServerConfig['logLevel'], destination?: DestinationStream): Logger {
  const options = {
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
  }
  // Tests capture the exact lines production would write by passing their own destination.
  return destination ? pino(options, destination) : pino(options)
}
