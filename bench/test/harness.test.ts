import { describe, expect, it } from 'vitest'
import { mapLimit, runInterleaved, runLoad } from '../src/load.ts'
import { renderReport } from '../src/report.ts'
import { timingOf } from '../src/responses-http.ts'
import type { ScenarioResult } from '../src/results.ts'
import { readSse } from '../src/sse.ts'
import { fmtMs, fmtRatio, percentile, ratio, summarize } from '../src/stats.ts'
import { niceTicks, renderBarChart, renderLineChart } from '../src/svg.ts'

describe('stats', () => {
  it('takes nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(sorted, 50)).toBe(50)
    expect(percentile(sorted, 99)).toBe(99)
    expect(percentile(sorted, 100)).toBe(100)
    expect(percentile([], 50)).toBeNaN()
  })

  it('summarizes unsorted samples', () => {
    const s = summarize([5, 1, 3, 2, 4])
    expect(s).toMatchObject({ count: 5, min: 1, max: 5, p50: 3, mean: 3 })
  })

  it('refuses ratios against a missing or zero base', () => {
    expect(ratio(4, 2)).toBe(2)
    expect(ratio(4, 0)).toBeNull()
    expect(ratio(undefined, 2)).toBeNull()
    expect(fmtRatio(null)).toBe('–')
    expect(fmtMs(0.0421)).toBe('0.042')
    expect(fmtMs(12.34)).toBe('12.3')
  })
})

describe('load generator', () => {
  it('stops at the operation bound and keeps the concurrency', async () => {
    let inFlight = 0
    let peak = 0
    const result = await runLoad({ concurrency: 4, durationMs: 10_000, maxOperations: 40 }, async () => {
      inFlight += 1
      peak = Math.max(peak, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 1))
      inFlight -= 1
    })
    expect(result.latencies).toHaveLength(40)
    expect(peak).toBe(4)
    expect(result.throughput).toBeGreaterThan(0)
  })

  it('stops at the time bound and counts errors apart', async () => {
    let calls = 0
    const result = await runLoad({ concurrency: 2, durationMs: 50, maxOperations: 1_000_000 }, async () => {
      calls += 1
      await new Promise((resolve) => setTimeout(resolve, 5))
      if (calls % 2 === 0) throw new Error('boom')
    })
    expect(result.elapsedMs).toBeLessThan(500)
    expect(result.errors).toBeGreaterThan(0)
    expect(result.errors + result.latencies.length).toBe(calls)
    expect(result.errorSamples).toEqual(['Error: boom'])
  })

  it('interleaves paths round by round, after warm-up rounds, timing each operation apart', async () => {
    const calls: string[] = []
    const around: string[] = []
    const result = await runInterleaved(
      ['a', 'b', 'c'].map((name) => async () => {
        calls.push(name)
        if (name === 'b' && calls.length % 2 === 0) throw new Error('odd b')
        await new Promise((resolve) => setTimeout(resolve, 1))
        return name.toUpperCase()
      }),
      { rounds: 4, durationMs: 10_000, warmup: 2 },
      { before: (path) => around.push(`+${path}`), after: (path) => around.push(`-${path}`) },
    )
    // Two warm-up rounds, then four measured ones, always a, b, c in that order.
    expect(calls).toEqual(Array.from({ length: 6 }, () => ['a', 'b', 'c']).flat())
    expect(result.rounds).toBe(4)
    expect(around).toEqual(Array.from({ length: 4 }, () => ['+0', '-0', '+1', '-1', '+2', '-2']).flat())
    expect(result.values[0]).toEqual(['A', 'A', 'A', 'A'])
    expect(result.values[2]).toEqual(['C', 'C', 'C', 'C'])
    expect((result.values[1]?.length ?? 0) + (result.errors[1] ?? 0)).toBe(4)
    expect(result.errors[1]).toBeGreaterThan(0)
    expect(result.errorSamples[1]).toEqual(['Error: odd b'])
    expect(result.latencies[0]).toHaveLength(4)
    for (const ms of result.latencies[0] ?? []) expect(ms).toBeGreaterThanOrEqual(0.5)
  })

  it('stops interleaving at the time bound', async () => {
    const result = await runInterleaved([() => new Promise<void>((resolve) => setTimeout(resolve, 5))], {
      rounds: 1_000_000,
      durationMs: 50,
      warmup: 0,
    })
    expect(result.rounds).toBeGreaterThan(0)
    expect(result.rounds).toBeLessThan(100)
  })

  it('maps with a limit and keeps the order', async () => {
    let inFlight = 0
    let peak = 0
    const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      inFlight += 1
      peak = Math.max(peak, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 6 - n))
      inFlight -= 1
      return n * 10
    })
    expect(out).toEqual([10, 20, 30, 40, 50, 60])
    expect(peak).toBe(2)
  })
})

describe('SSE reader', () => {
  async function* chunks(...parts: string[]) {
    for (const part of parts) yield new TextEncoder().encode(part)
  }

  it('reassembles events split across chunks, CRLF included', async () => {
    const events = []
    for await (const event of readSse(
      chunks('event: a\r\ndata: {"x"', ':1}\r\n\r\n: comment\n\ndata: plain\n', '\nevent: tail\ndata: last'),
    )) {
      events.push(event)
    }
    expect(events).toEqual([
      { event: 'a', data: '{"x":1}' },
      { event: 'message', data: 'plain' },
      { event: 'tail', data: 'last' },
    ])
  })

  it('times a stream from its deltas', () => {
    expect(timingOf(100, [110, 112, 114], 120)).toEqual({ ttftMs: 10, totalMs: 20, deltas: 3, perDeltaMs: 2 })
    expect(() => timingOf(0, [], 1)).toThrow(/no text delta/)
  })
})

describe('SVG charts', () => {
  it('picks round ticks that cover the data', () => {
    const ticks = niceTicks(0, 379)
    expect(ticks[0]).toBe(0)
    expect(ticks.at(-1)).toBeGreaterThanOrEqual(379)
    expect(ticks.length).toBeLessThanOrEqual(8)
  })

  it('draws one bar per figure, taller for larger values, and escapes text', () => {
    const svg = renderBarChart({
      kind: 'bar',
      title: 'a < b & c',
      yLabel: 'ms',
      categories: ['c=1'],
      series: [
        { name: 'small', values: [10] },
        { name: 'large', values: [40] },
        { name: 'missing', values: [null] },
      ],
    })
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('a &#60; b &#38; c')
    const heights = [
      ...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#[0-9a-f]+"><title>/g),
    ].map((m) => Number(m[1]))
    expect(heights).toHaveLength(2)
    expect(heights[1]).toBeCloseTo((heights[0] ?? 0) * 4, 0)
  })

  it('draws a line per series on a log x axis', () => {
    const svg = renderLineChart({
      kind: 'line',
      title: 'growth',
      xLabel: 'items',
      yLabel: 'ms',
      xLog: true,
      series: [
        {
          name: 'direct',
          points: [
            [100, 1],
            [1000, 2],
            [10000, 8],
          ],
        },
      ],
    })
    expect(svg.match(/<path /g)).toHaveLength(1)
    expect(svg.match(/<circle /g)).toHaveLength(3)
    expect(svg).toContain('>10k<')
  })
})

describe('report', () => {
  it('renders tables, plots, targets and notes of every scenario', () => {
    const result: ScenarioResult = {
      id: 'demo',
      title: 'Demo scenario',
      method: ['How it was measured.'],
      notes: ['Part X was not measured: reason'],
      tables: [{ caption: 'Figures', columns: ['path', 'p50'], rows: [['direct', '1.00']] }],
      charts: [
        { kind: 'bar', title: 't', yLabel: 'ms', categories: ['a'], series: [{ name: 's', values: [1] }] },
      ],
      targets: [{ target: 'p50 ≤ 2 ms', measured: '3 ms', met: false, note: 'over by 1 ms' }],
      headlines: [{ label: 'p50 vs direct', value: '1.5×' }],
      data: {},
      finishedAt: '2026-01-01T00:00:00.000Z',
      durationMs: 1000,
      quick: false,
    }
    const md = renderReport(
      { quick: false, startedAt: 'now', durationMs: 60_000, command: 'pnpm bench' },
      [result],
      '../r',
    )
    expect(md).toContain('| direct | 1.00 |')
    expect(md).toContain('![demo-1.svg](../r/demo-1.svg)')
    expect(md).toContain('| Demo scenario | p50 ≤ 2 ms | 3 ms | **missed** | over by 1 ms |')
    expect(md).toContain('| p50 vs direct | 1.5× |')
    expect(md).toContain('> Part X was not measured: reason')
  })
})
