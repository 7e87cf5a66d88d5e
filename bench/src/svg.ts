/**
 * A tiny SVG chart generator (grouped bars and lines): enough for the benchmark report, with no
 * dependency and a deterministic output for a given input.
 */

export interface BarChart {
  kind: 'bar'
  title: string
  yLabel: string
  /** Groups along the x axis (e.g. "c=1", "c=64"). */
  categories: string[]
  /** One bar per series in each group; null where there is no figure. */
  series: { name: string; values: (number | null)[] }[]
  /** Logarithmic y axis, for figures that span orders of magnitude. */
  yLog?: boolean
}

export interface LineChart {
  kind: 'line'
  title: string
  xLabel: string
  yLabel: string
  series: { name: string; points: [number, number][] }[]
  xLog?: boolean
  yLog?: boolean
}

export type Chart = BarChart | LineChart

const WIDTH = 720
const HEIGHT = 360
const PLOT = { left: 70, right: 180, top: 40, bottom: 50 }
const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948', '#9c755f']

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function num(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1)
}

/** Axis label for a tick value: short, no trailing zeros. */
export function tickLabel(value: number): string {
  const abs = Math.abs(value)
  if (abs === 0) return '0'
  if (abs >= 1_000_000) return `${trim(value / 1_000_000)}M`
  if (abs >= 10_000) return `${trim(value / 1000)}k`
  if (abs >= 1) return trim(value)
  return String(Number(value.toPrecision(2)))
}

function trim(value: number): string {
  return String(Number(value.toFixed(2)))
}

/** About five round ticks covering [min, max] on a linear scale. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min]
  const raw = (max - min) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude
  const ticks: number[] = []
  // The last tick is at or above max, so that the tallest bar stays inside the plot.
  const last = Math.ceil(max / step - 1e-9) * step
  for (let v = Math.floor(min / step) * step; v <= last + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)))
  return ticks
}

function logTicks(min: number, max: number): number[] {
  const ticks: number[] = []
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) ticks.push(10 ** e)
  return ticks
}

interface Scale {
  map(value: number): number
  ticks: number[]
}

function scale(min: number, max: number, from: number, to: number, log: boolean): Scale {
  if (log) {
    const ticks = logTicks(min, max)
    const lo = Math.log10(ticks[0] ?? min)
    const hi = Math.log10(ticks[ticks.length - 1] ?? max)
    const span = hi - lo || 1
    return { ticks, map: (v) => from + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / span) * (to - from) }
  }
  const ticks = niceTicks(min, max)
  const lo = ticks[0] ?? min
  const hi = ticks[ticks.length - 1] ?? max
  const span = hi - lo || 1
  return { ticks, map: (v) => from + ((v - lo) / span) * (to - from) }
}

function frame(chart: Chart, yScale: Scale, body: string[], xAxis: string[], names: string[]): string {
  const bottom = HEIGHT - PLOT.bottom
  const right = WIDTH - PLOT.right
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2 - PLOT.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ]
  for (const tick of yScale.ticks) {
    const y = num(yScale.map(tick))
    parts.push(`<line x1="${PLOT.left}" x2="${right}" y1="${y}" y2="${y}" stroke="#e0e0e0"/>`)
    parts.push(
      `<text x="${PLOT.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(tick)}</text>`,
    )
  }
  parts.push(`<line x1="${PLOT.left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`)
  parts.push(`<line x1="${PLOT.left}" x2="${PLOT.left}" y1="${PLOT.top}" y2="${bottom}" stroke="#333"/>`)
  parts.push(
    `<text transform="translate(16 ${(PLOT.top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
  )
  parts.push(...xAxis, ...body)
  names.forEach((name, i) => {
    const y = PLOT.top + 10 + i * 20
    parts.push(
      `<rect x="${right + 14}" y="${y - 6}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
    )
    parts.push(`<text x="${right + 32}" y="${y}" dominant-baseline="middle">${escapeXml(name)}</text>`)
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

function finite(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null && Number.isFinite(v) && !Number.isNaN(v))
}

function yRange(values: number[], log: boolean): [number, number] {
  const positive = log ? values.filter((v) => v > 0) : values
  if (positive.length === 0) return log ? [1, 10] : [0, 1]
  const max = Math.max(...positive)
  const min = log ? Math.min(...positive) : Math.min(0, ...positive)
  return [min, max === min ? min + 1 : max]
}

export function renderBarChart(chart: BarChart): string {
  const bottom = HEIGHT - PLOT.bottom
  const right = WIDTH - PLOT.right
  const log = chart.yLog ?? false
  const [min, max] = yRange(finite(chart.series.flatMap((s) => s.values)), log)
  const y = scale(min, max, bottom, PLOT.top, log)
  const groupWidth = (right - PLOT.left) / Math.max(1, chart.categories.length)
  const barWidth = (groupWidth * 0.8) / Math.max(1, chart.series.length)
  const body: string[] = []
  const xAxis: string[] = []
  chart.categories.forEach((category, c) => {
    const groupLeft = PLOT.left + c * groupWidth + groupWidth * 0.1
    xAxis.push(
      `<text x="${num(PLOT.left + (c + 0.5) * groupWidth)}" y="${bottom + 18}" text-anchor="middle">${escapeXml(category)}</text>`,
    )
    chart.series.forEach((series, s) => {
      const value = series.values[c]
      if (value == null || !Number.isFinite(value) || (log && value <= 0)) return
      const top = y.map(value)
      const base = log ? bottom : y.map(Math.max(0, y.ticks[0] ?? 0))
      const x = groupLeft + s * barWidth
      body.push(
        `<rect x="${num(x)}" y="${num(Math.min(top, base))}" width="${num(barWidth * 0.92)}" height="${num(Math.abs(base - top))}" fill="${COLORS[s % COLORS.length]}"><title>${escapeXml(`${series.name} · ${category}: ${tickLabel(value)}`)}</title></rect>`,
      )
      // The figure itself above the bar: a reader should not have to estimate it from the grid.
      body.push(
        `<text x="${num(x + (barWidth * 0.92) / 2)}" y="${num(Math.min(top, base) - 4)}" text-anchor="middle" font-size="10">${tickLabel(Number(value.toPrecision(3)))}</text>`,
      )
    })
  })
  return frame(
    chart,
    y,
    body,
    xAxis,
    chart.series.map((s) => s.name),
  )
}

export function renderLineChart(chart: LineChart): string {
  const bottom = HEIGHT - PLOT.bottom
  const right = WIDTH - PLOT.right
  const points = chart.series.flatMap((s) => s.points)
  const xs = finite(points.map((p) => p[0]))
  const ys = finite(points.map((p) => p[1]))
  const [yMin, yMax] = yRange(ys, chart.yLog ?? false)
  const y = scale(yMin, yMax, bottom, PLOT.top, chart.yLog ?? false)
  const xLog = chart.xLog ?? false
  const xMin = xs.length ? Math.min(...xs) : 0
  const xMax = xs.length ? Math.max(...xs) : 1
  const x = scale(xLog ? xMin : Math.min(0, xMin), xMax === xMin ? xMin + 1 : xMax, PLOT.left, right, xLog)
  const xAxis = x.ticks.map(
    (tick) =>
      `<text x="${num(x.map(tick))}" y="${bottom + 18}" text-anchor="middle">${tickLabel(tick)}</text>` +
      `<line x1="${num(x.map(tick))}" x2="${num(x.map(tick))}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/>`,
  )
  xAxis.push(
    `<text x="${(PLOT.left + right) / 2}" y="${bottom + 38}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
  )
  const body: string[] = []
  chart.series.forEach((series, s) => {
    const color = COLORS[s % COLORS.length]
    const valid = series.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py))
    if (valid.length === 0) return
    const path = valid
      .map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${num(x.map(px))},${num(y.map(py))}`)
      .join(' ')
    body.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`)
    for (const [px, py] of valid) {
      body.push(
        `<circle cx="${num(x.map(px))}" cy="${num(y.map(py))}" r="3.5" fill="${color}"><title>${escapeXml(`${series.name} · ${tickLabel(px)}: ${tickLabel(py)}`)}</title></circle>`,
      )
    }
  })
  return frame(
    chart,
    y,
    body,
    xAxis,
    chart.series.map((s) => s.name),
  )
}

export function renderChart(chart: Chart): string {
  return chart.kind === 'bar' ? renderBarChart(chart) : renderLineChart(chart)
}
