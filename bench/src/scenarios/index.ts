import type { Scenario } from '../results.ts'
import { coldStart } from './cold-start.ts'
import { history } from './history.ts'
import { idempotency } from './idempotency.ts'
import { idleConnections } from './idle-connections.ts'
import { manyStreams } from './many-streams.ts'
import { nonStreamed } from './non-streamed.ts'
import { streaming } from './streaming.ts'

/** In the order of the report. */
export const scenarios: Scenario[] = [
  nonStreamed,
  streaming,
  idempotency,
  history,
  manyStreams,
  idleConnections,
  coldStart,
]
