import { lexer, type MarkedToken, type Token, type Tokens } from 'marked'
import { Fragment, type ReactNode, useState } from 'react'
import { highlightCode } from './highlight.ts'

/**
 * Markdown from a model is untrusted: it is lexed with `marked` and rendered to React elements
 * here, never to an HTML string. Raw HTML shows as text, links keep only http(s)/mailto
 * targets and images render as links (no third-party fetches from a reply).
 */
export function Markdown({ text }: { text: string }) {
  return <div className="markdown">{renderBlocks(lexer(text, { gfm: true, breaks: false }))}</div>
}

export function safeHref(href: string): string | null {
  const trimmed = href.trim()
  try {
    const url = new URL(trimmed, 'https://invalid.example/')
    if (url.origin === 'https://invalid.example') return null
    return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'mailto:'
      ? url.href
      : null
  } catch {
    return null
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' }

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (match, name: string) => {
    if (name.startsWith('#')) {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
      return Number.isInteger(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
        ? String.fromCodePoint(code)
        : match
    }
    return ENTITIES[name.toLowerCase()] ?? match
  })
}

function renderBlocks(tokens: readonly Token[]): ReactNode[] {
  return tokens.map((token, index) => <Fragment key={index}>{renderBlock(token as MarkedToken)}</Fragment>)
}

function renderBlock(token: MarkedToken): ReactNode {
  switch (token.type) {
    case 'space':
    case 'def':
      return null
    case 'heading': {
      const children = renderInline(token.tokens)
      switch (Math.min(Math.max(token.depth, 1), 6)) {
        case 1:
          return <h1>{children}</h1>
        case 2:
          return <h2>{children}</h2>
        case 3:
          return <h3>{children}</h3>
        case 4:
          return <h4>{children}</h4>
        case 5:
          return <h5>{children}</h5>
        default:
          return <h6>{children}</h6>
      }
    }
    case 'paragraph':
      return <p>{renderInline(token.tokens)}</p>
    case 'code':
      return <CodeBlock code={token.text} language={token.lang?.split(/\s/)[0] ?? ''} />
    case 'blockquote':
      return <blockquote>{renderBlocks(token.tokens)}</blockquote>
    case 'hr':
      return <hr />
    case 'list': {
      const items = token.items.map((item, index) => (
        <li key={index} className={item.task ? 'task' : undefined}>
          {item.task ? (
            <input type="checkbox" checked={item.checked ?? false} disabled aria-label="task" />
          ) : null}
          {renderListItem(item)}
        </li>
      ))
      return token.ordered ? (
        <ol start={token.start === '' ? undefined : token.start}>{items}</ol>
      ) : (
        <ul>{items}</ul>
      )
    }
    case 'table':
      return (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                {token.header.map((cell, index) => (
                  <th key={index} style={cell.align ? { textAlign: cell.align } : undefined}>
                    {renderInline(cell.tokens)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {token.rows.map((row, rowIndex) => (
                <tr key={rowIndex}>
                  {row.map((cell, index) => (
                    <td key={index} style={cell.align ? { textAlign: cell.align } : undefined}>
                      {renderInline(cell.tokens)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )
    case 'html':
      return token.block ? <p className="raw">{token.text}</p> : token.text
    case 'text':
      return token.tokens ? <p>{renderInline(token.tokens)}</p> : <p>{decodeEntities(token.text)}</p>
    default:
      return renderInlineToken(token)
  }
}

function renderListItem(item: Tokens.ListItem): ReactNode {
  const tokens = item.tokens.filter((token) => token.type !== 'checkbox')
  // Tight list items hold bare `text` tokens: render them inline, without paragraph margins.
  return tokens.map((token, index) =>
    token.type === 'text' && !item.loose ? (
      <Fragment key={index}>
        {'tokens' in token && token.tokens ? renderInline(token.tokens) : token.text}
      </Fragment>
    ) : (
      <Fragment key={index}>{renderBlock(token as MarkedToken)}</Fragment>
    ),
  )
}

function renderInline(tokens: readonly Token[] | undefined): ReactNode[] {
  if (!tokens) return []
  return tokens.map((token, index) => (
    <Fragment key={index}>{renderInlineToken(token as MarkedToken)}</Fragment>
  ))
}

function renderInlineToken(token: MarkedToken): ReactNode {
  switch (token.type) {
    case 'text':
      return token.tokens ? renderInline(token.tokens) : decodeEntities(token.text)
    case 'escape':
      return token.text
    case 'strong':
      return <strong>{renderInline(token.tokens)}</strong>
    case 'em':
      return <em>{renderInline(token.tokens)}</em>
    case 'del':
      return <del>{renderInline(token.tokens)}</del>
    case 'codespan':
      return <code className="inline-code">{decodeEntities(token.text)}</code>
    case 'br':
      return <br />
    case 'link': {
      const href = safeHref(token.href)
      const children = renderInline(token.tokens)
      return href ? (
        <a href={href} target="_blank" rel="noopener noreferrer nofollow" title={token.title ?? undefined}>
          {children}
        </a>
      ) : (
        <span>{children}</span>
      )
    }
    case 'image': {
      const href = safeHref(token.href)
      const label = token.text || 'image'
      return href ? (
        <a href={href} target="_blank" rel="noopener noreferrer nofollow">
          [{label}]
        </a>
      ) : (
        `[${label}]`
      )
    }
    case 'html':
      return token.text
    case 'checkbox':
      return null
    default:
      return 'raw' in token ? String(token.raw) : null
  }
}

export function CodeBlock({ code, language }: { code: string; language: string }) {
  const [copied, setCopied] = useState(false)
  const highlighted = highlightCode(code, language)
  return (
    <div className="code-block">
      <div className="code-head">
        <span className="code-lang">{highlighted.language || 'text'}</span>
        <button
          type="button"
          className="ghost small"
          onClick={() => {
            void copyText(code).then((ok) => {
              setCopied(ok)
              if (ok) setTimeout(() => setCopied(false), 1500)
            })
          }}
          aria-label="Copy code"
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre>
        <code className={`hljs language-${highlighted.language || 'text'}`}>{highlighted.nodes}</code>
      </pre>
    </div>
  )
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // The clipboard API needs a secure context and focus; fall back to a hidden textarea.
    const area = document.createElement('textarea')
    area.value = text
    area.setAttribute('readonly', '')
    area.style.position = 'fixed'
    area.style.opacity = '0'
    document.body.append(area)
    area.select()
    const ok = document.execCommand('copy')
    area.remove()
    return ok
  }
}
