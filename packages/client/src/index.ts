export {
  type AppRouter,
  createParleyClient,
  type ParleyClient,
  type ParleyClientOptions,
  type Transport,
} from './client.ts'
export {
  type ClientErrorReason,
  isParleyClientError,
  ParleyClientError,
  toParleyClientError,
} from './errors.ts'
export { type StreamTurnInput, type StreamTurnOptions, type StreamTurnResult, streamTurn } from './stream.ts'
