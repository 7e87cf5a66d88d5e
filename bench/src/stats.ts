/** Latency figures in milliseconds, from raw samples. */
export interface LatencySummary {
  count: number
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
}

/** Nearest-rank percentile of an ascending array (`p` in [0, 100]); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b)
  const sum = sorted.reduce((total, value) => total + value, 0)
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  }
}

export function median(samples: readonly number[]): number {
  return percentile(
    [...samples].sort((a, b) => a - b),
    50,
  )
}

/** `value / base`, or null when the base is missing or zero (a ratio that means nothing). */
export function ratio(value: number | null | undefined, base: number | null | undefined): number | null {
  if (value == null || base == null || !Number.isFinite(value) || !Number.isFinite(base) || base === 0)
    return null
  return value / base
}

/** Milliseconds with a precision that suits their size (0.042, 1.23, 12.3, 1234). */
export function fmtMs(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–'
  const abs = Math.abs(value)
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toFixed(3)
}

export function fmtRatio(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–'
  return value >= 10 ? `${value.toFixed(0)}×` : `${value.toFixed(2)}×`
}

export function fmtInt(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–'
  return Math.round(value).toLocaleString('en-US')
}

export function fmtBytes(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–'
  const abs = Math.abs(value)
  if (abs >= 1024 * 1024) return `${(value / (1024 * 1024)).toFixed(1)} MiB`
  if (abs >= 1024) return `${(value / 1024).toFixed(1)} KiB`
  return `${Math.round(value)} B`
}
