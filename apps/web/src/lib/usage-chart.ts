import type { UsageTotal } from '@parley/core'

/** Stacked bars of tokens per day, one segment per model, for the inline SVG chart. */
export interface UsageBar {
  day: string
  total: number
  segments: { model: string; tokens: number; y: number; height: number }[]
}

export interface UsageChart {
  models: string[]
  bars: UsageBar[]
  max: number
  totalTokens: number
  totalTurns: number
}

/** Every day of [from, to] (inclusive, UTC), so quiet days show as gaps, not as missing bars. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = []
  const end = Date.parse(`${to}T00:00:00Z`)
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= end && days.length < 400; at += 86_400_000) {
    days.push(new Date(at).toISOString().slice(0, 10))
  }
  return days
}

export function buildUsageChart(
  totals: readonly UsageTotal[],
  days: readonly string[],
  height: number,
): UsageChart {
  const models = [...new Set(totals.map((row) => row.model))].sort()
  const byDay = new Map<string, Map<string, number>>()
  for (const row of totals) {
    const perModel = byDay.get(row.day) ?? new Map<string, number>()
    perModel.set(row.model, (perModel.get(row.model) ?? 0) + row.totalTokens)
    byDay.set(row.day, perModel)
  }
  const dayTotals = days.map((day) => [...(byDay.get(day)?.values() ?? [])].reduce((sum, n) => sum + n, 0))
  const max = Math.max(1, ...dayTotals)
  const bars = days.map((day, index) => {
    let y = height
    const segments = models
      .map((model) => ({ model, tokens: byDay.get(day)?.get(model) ?? 0 }))
      .filter((segment) => segment.tokens > 0)
      .map((segment) => {
        const segmentHeight = (segment.tokens / max) * height
        y -= segmentHeight
        return { ...segment, y, height: segmentHeight }
      })
    return { day, total: dayTotals[index] ?? 0, segments }
  })
  return {
    models,
    bars,
    max,
    totalTokens: totals.reduce((sum, row) => sum + row.totalTokens, 0),
    totalTurns: totals.reduce((sum, row) => sum + row.turns, 0),
  }
}

export function formatTokens(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`
  if (n >= 10_000) return `${Math.round(n / 1000)}k`
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`
  return String(n)
}
