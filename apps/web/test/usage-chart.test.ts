import { describe, expect, it } from 'vitest'
import { buildUsageChart, daysBetween, formatTokens } from '../src/lib/usage-chart.ts'

describe('usage chart', () => {
  it('lists every day of the range, across a month end', () => {
    expect(daysBetween('2025-01-30', '2025-02-02')).toEqual([
      '2025-01-30',
      '2025-01-31',
      '2025-02-01',
      '2025-02-02',
    ])
  })

  it('stacks models per day, scaled to the busiest day', () => {
    const row = (day: string, model: string, totalTokens: number) => ({
      day,
      model,
      turns: 1,
      inputTokens: 0,
      outputTokens: totalTokens,
      totalTokens,
    })
    const chart = buildUsageChart(
      [row('2025-01-01', 'b', 50), row('2025-01-01', 'a', 50), row('2025-01-03', 'a', 25)],
      ['2025-01-01', '2025-01-02', '2025-01-03'],
      100,
    )
    expect(chart.models).toEqual(['a', 'b'])
    expect(chart.max).toBe(100)
    expect(chart.totalTokens).toBe(125)
    expect(chart.totalTurns).toBe(3)
    const [first, quiet, third] = chart.bars
    expect(first?.segments.map((s) => [s.model, s.y, s.height])).toEqual([
      ['a', 50, 50],
      ['b', 0, 50],
    ])
    expect(quiet?.segments).toEqual([])
    expect(third?.segments[0]?.height).toBe(25)
  })

  it('formats token counts compactly', () => {
    expect(formatTokens(950)).toBe('950')
    expect(formatTokens(1500)).toBe('1.5k')
    expect(formatTokens(25_000)).toBe('25k')
    expect(formatTokens(2_500_000)).toBe('2.5M')
  })
})
