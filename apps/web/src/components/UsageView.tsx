import { useQuery } from '@tanstack/react-query'
import { createPortal } from 'react-dom'
import { useApi } from '../api/context.tsx'
import { errorInfo } from '../api/types.ts'
import { buildUsageChart, daysBetween, formatTokens } from '../lib/usage-chart.ts'

const DAYS = 14
const WIDTH = 640
const HEIGHT = 180
const PALETTE = ['var(--chart-1)', 'var(--chart-2)', 'var(--chart-3)', 'var(--chart-4)', 'var(--chart-5)']

export function UsageView() {
  const { api } = useApi()
  const today = new Date().toISOString().slice(0, 10)
  const from = new Date(Date.now() - (DAYS - 1) * 86_400_000).toISOString().slice(0, 10)
  const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
  const usage = useQuery({ queryKey: ['usage', from], queryFn: () => api.usage.totals({ from, to }) })
  const titleSlot = document.getElementById('topbar-title')

  const chart = buildUsageChart(usage.data ?? [], daysBetween(from, today), HEIGHT)
  const slot = WIDTH / chart.bars.length
  const barWidth = Math.max(4, slot * 0.6)

  return (
    <div className="usage-view">
      {titleSlot ? createPortal(<h1 className="conversation-heading">Usage</h1>, titleSlot) : null}
      <section className="card usage-card" aria-labelledby="usage-heading">
        <h2 id="usage-heading">Tokens per day, last {DAYS} days</h2>
        {usage.isError ? (
          <p className="error-text" role="alert">
            {errorInfo(usage.error).message}
          </p>
        ) : null}
        <div className="usage-summary">
          <div>
            <span className="stat">{formatTokens(chart.totalTokens)}</span>
            <span className="muted">tokens</span>
          </div>
          <div>
            <span className="stat" data-testid="usage-turns">
              {chart.totalTurns}
            </span>
            <span className="muted">replies</span>
          </div>
        </div>
        <svg
          className="usage-chart"
          viewBox={`0 0 ${WIDTH} ${HEIGHT + 24}`}
          role="img"
          aria-label={`Stacked bar chart of tokens per day and model; ${formatTokens(chart.totalTokens)} tokens in total`}
        >
          <line x1="0" x2={WIDTH} y1={HEIGHT} y2={HEIGHT} className="axis" />
          {chart.bars.map((bar, index) => {
            const x = index * slot + (slot - barWidth) / 2
            return (
              <g key={bar.day}>
                <title>{`${bar.day}: ${bar.total} tokens`}</title>
                {bar.segments.map((segment) => (
                  <rect
                    key={segment.model}
                    x={x}
                    y={segment.y}
                    width={barWidth}
                    height={Math.max(segment.height, 1)}
                    rx="2"
                    fill={PALETTE[chart.models.indexOf(segment.model) % PALETTE.length]}
                  />
                ))}
                {(chart.bars.length - 1 - index) % 2 === 0 || chart.bars.length <= 7 ? (
                  <text x={x + barWidth / 2} y={HEIGHT + 16} textAnchor="middle" className="tick">
                    {bar.day.slice(5)}
                  </text>
                ) : null}
              </g>
            )
          })}
        </svg>
        {chart.models.length > 0 ? (
          <ul className="legend">
            {chart.models.map((model, index) => (
              <li key={model}>
                <span
                  className="swatch"
                  style={{ background: PALETTE[index % PALETTE.length] }}
                  aria-hidden="true"
                />
                {model}
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">{usage.isPending ? 'Loading…' : 'No usage in this period yet.'}</p>
        )}
      </section>
      {usage.data && usage.data.length > 0 ? (
        <section className="card">
          <h2>By day and model</h2>
          <div className="table-wrap">
            <table className="usage-table">
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col">Model</th>
                  <th scope="col">Replies</th>
                  <th scope="col">Input</th>
                  <th scope="col">Output</th>
                  <th scope="col">Total</th>
                </tr>
              </thead>
              <tbody>
                {[...usage.data]
                  .sort((a, b) => b.day.localeCompare(a.day) || a.model.localeCompare(b.model))
                  .map((row) => (
                    <tr key={`${row.day}:${row.model}`}>
                      <td>{row.day}</td>
                      <td>{row.model}</td>
                      <td>{row.turns}</td>
                      <td>{row.inputTokens}</td>
                      <td>{row.outputTokens}</td>
                      <td>{row.totalTokens}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </div>
  )
}
