import { describe, expect, it } from 'vitest'
import { ServerMetrics } from '../src/metrics.ts'

describe('ServerMetrics', () => {
  it('renders Prometheus text with cumulative histogram buckets', () => {
    const metrics = new ServerMetrics()
    metrics.turns.inc({ status: 'completed' })
    metrics.turns.inc({ status: 'completed' })
    metrics.turns.inc({ status: 'failed' })
    metrics.timeToFirstToken.observe(0.003)
    metrics.timeToFirstToken.observe(0.2)
    metrics.activeStreams.inc()
    const text = metrics.render(true)
    expect(text).toContain('# TYPE parley_turns_total counter')
    expect(text).toContain('parley_turns_total{status="completed"} 2')
    expect(text).toContain('parley_turns_total{status="failed"} 1')
    expect(text).toContain('parley_time_to_first_token_seconds_bucket{le="0.005"} 1')
    expect(text).toContain('parley_time_to_first_token_seconds_bucket{le="0.25"} 2')
    expect(text).toContain('parley_time_to_first_token_seconds_bucket{le="+Inf"} 2')
    expect(text).toContain('parley_time_to_first_token_seconds_count 2')
    expect(text).toContain('parley_active_streams 1')
    expect(text).toContain('parley_database_ready 1')
    expect(metrics.render(false)).toContain('parley_database_ready 0')
    expect(text.endsWith('\n')).toBe(true)
  })

  it('escapes label values', () => {
    const metrics = new ServerMetrics()
    metrics.httpRequests.inc({ route: 'a"b\\c' })
    expect(metrics.render(true)).toContain('parley_http_requests_total{route="a\\"b\\\\c"} 1')
  })
})
