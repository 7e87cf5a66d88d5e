import { createElement } from 'react'
import { renderToStaticMarkup } from 'react-dom/server'
import { describe, expect, it } from 'vitest'
import { decodeEntities, Markdown, safeHref } from '../src/lib/markdown.tsx'

const render = (text: string) => renderToStaticMarkup(createElement(Markdown, { text }))

describe('markdown rendering of model output', () => {
  it('renders raw HTML as text, never as elements', () => {
    const html = render(
      'Hi <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n<iframe src="https://evil"></iframe>',
    )
    expect(html).not.toMatch(/<script|<img|<iframe/i)
    expect(html).toContain('&lt;script&gt;')
  })

  it('drops javascript: and data: links but keeps http(s) ones', () => {
    const html = render('[a](javascript:alert(1)) [b](data:text/html,x) [c](https://example.com/x)')
    expect(html).not.toMatch(/javascript:|data:text/)
    expect(html).toContain('href="https://example.com/x"')
    expect(html).toContain('rel="noopener noreferrer nofollow"')
    expect(safeHref('  JaVaScRiPt:alert(1)')).toBeNull()
    expect(safeHref('/relative')).toBeNull()
    expect(safeHref('mailto:a@b.c')).toBe('mailto:a@b.c')
  })

  it('renders images as links, so a reply cannot make the browser fetch anything', () => {
    const html = render('![tracker](https://example.com/pixel.png)')
    expect(html).not.toContain('<img')
    expect(html).toContain('[tracker]')
  })

  it('highlights fenced code with a copy button and escapes it', () => {
    const html = render('```ts\nconst a: string = "<b>"\n```')
    expect(html).toContain('class="hljs-keyword"')
    expect(html).toContain('&lt;b&gt;')
    expect(html).toContain('aria-label="Copy code"')
    expect(html).toContain('>ts<')
  })

  it('renders lists, tables, emphasis and inline code', () => {
    const html = render('# Title\n\n- **bold** and *em*\n- `x < y`\n\n| a | b |\n|---|---|\n| 1 | 2 |')
    expect(html).toContain('<h1>Title</h1>')
    expect(html).toContain('<strong>bold</strong>')
    expect(html).toContain('<em>em</em>')
    expect(html).toContain('<code class="inline-code">x &lt; y</code>')
    expect(html).toContain('<td>2</td>')
  })

  it('decodes character references once, without creating markup', () => {
    expect(decodeEntities('a &amp; b &lt;i&gt; &#65; &#x42; &bogus;')).toBe('a & b <i> A B &bogus;')
  })
})
