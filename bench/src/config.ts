/** Counts and durations of one run; `--quick` shrinks them for a smoke run. */
export interface BenchConfig {
  quick: boolean
  nonStreamed: { concurrencies: number[]; durationMs: number; maxOperations: number; warmup: number }
  streaming: { turns: number; warmup: number }
  idempotency: { duplicates: number }
  history: { sizes: number[]; chain: number; reps: number }
  manyStreams: { streams: number; deltas: number }
  idle: { connections: number }
  coldStart: { reps: number }
}

export function benchConfig(quick: boolean): BenchConfig {
  if (quick) {
    return {
      quick,
      nonStreamed: { concurrencies: [1, 64], durationMs: 1_500, maxOperations: 1_000, warmup: 64 },
      streaming: { turns: 40, warmup: 10 },
      idempotency: { duplicates: 200 },
      history: { sizes: [100, 1_000], chain: 100, reps: 5 },
      manyStreams: { streams: 100, deltas: 200 },
      idle: { connections: 500 },
      coldStart: { reps: 1 },
    }
  }
  return {
    quick,
    nonStreamed: { concurrencies: [1, 64], durationMs: 8_000, maxOperations: 50_000, warmup: 256 },
    streaming: { turns: 300, warmup: 30 },
    idempotency: { duplicates: 200 },
    history: { sizes: [100, 1_000, 10_000], chain: 1_000, reps: 15 },
    manyStreams: { streams: 1_000, deltas: 200 },
    idle: { connections: 5_000 },
    coldStart: { reps: 3 },
  }
}
