import { startFakeUpstream } from '@parley/providers/fake-upstream'

/**
 * The fake upstream in a process of its own, so that it does not share an event loop with the
 * load generator. The parent reads its call counter over IPC.
 */
const upstream = await startFakeUpstream({
  tokens: Number(process.env['BENCH_UPSTREAM_TOKENS'] ?? 20),
  delayMs: Number(process.env['BENCH_UPSTREAM_DELAY_MS'] ?? 0),
  // A benchmark sends hundreds of thousands of requests: keep none of their bodies.
  keepCalls: 0,
})

process.on('message', (message: { id?: number; type?: string }) => {
  if (message.type === 'count') process.send?.({ id: message.id, count: upstream.callCount('responses') })
})
// The parent went away: nothing else will stop this process.
process.on('disconnect', () => {
  void upstream.stop().finally(() => process.exit(0))
})
process.on('SIGTERM', () => {
  void upstream.stop().finally(() => process.exit(0))
})
process.send?.({ type: 'ready', url: upstream.url })
