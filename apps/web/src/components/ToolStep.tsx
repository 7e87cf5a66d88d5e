import type { TurnPart } from '../lib/live-turn.ts'

type ToolPart = Extract<TurnPart, { kind: 'tool' }>

function pretty(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2)
  } catch {
    return json
  }
}

/** A tool call as a collapsible step: name and state in the summary, arguments and result inside. */
export function ToolStep({ part }: { part: ToolPart }) {
  const state = part.result === null ? 'running' : part.result.isError ? 'error' : 'done'
  return (
    <details className={`tool-step ${state}`} data-tool={part.name}>
      <summary>
        <span className={`tool-dot ${state}`} aria-hidden="true" />
        <span className="tool-name">{part.name}</span>
        <span className="tool-state">
          {state === 'running'
            ? 'running…'
            : state === 'error'
              ? 'failed'
              : part.result?.durationMs !== null && part.result?.durationMs !== undefined
                ? `${part.result.durationMs} ms`
                : 'done'}
        </span>
      </summary>
      <div className="tool-body">
        <div className="tool-label">Arguments</div>
        <pre>{pretty(part.arguments)}</pre>
        {part.result ? (
          <>
            <div className="tool-label">{part.result.isError ? 'Error' : 'Result'}</div>
            <pre className={part.result.isError ? 'tool-error' : undefined}>{pretty(part.result.output)}</pre>
          </>
        ) : null}
      </div>
    </details>
  )
}
