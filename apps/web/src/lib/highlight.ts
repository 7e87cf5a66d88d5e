import bash from 'highlight.js/lib/languages/bash'
import css from 'highlight.js/lib/languages/css'
import go from 'highlight.js/lib/languages/go'
import java from 'highlight.js/lib/languages/java'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import python from 'highlight.js/lib/languages/python'
import rust from 'highlight.js/lib/languages/rust'
import sql from 'highlight.js/lib/languages/sql'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'
import { createLowlight } from 'lowlight'
import { createElement, Fragment, type ReactNode } from 'react'

// A handful of common grammars keeps the bundle small; other languages render unhighlighted.
const lowlight = createLowlight({
  bash,
  css,
  go,
  java,
  javascript,
  json,
  python,
  rust,
  sql,
  typescript,
  xml,
  yaml,
})
lowlight.registerAlias({
  bash: ['sh', 'shell', 'zsh', 'console'],
  javascript: ['js', 'jsx', 'mjs', 'cjs'],
  typescript: ['ts', 'tsx'],
  python: ['py'],
  rust: ['rs'],
  xml: ['html', 'svg'],
  yaml: ['yml'],
})

type HastNode = ReturnType<typeof lowlight.highlight>['children'][number]

/** Highlighted code as React elements (lowlight gives a syntax tree: no HTML string involved). */
export function highlightCode(code: string, language: string): { language: string; nodes: ReactNode } {
  const name = language.toLowerCase()
  if (!name || !lowlight.registered(name)) return { language: name, nodes: code }
  try {
    const tree = lowlight.highlight(name, code)
    return { language: name, nodes: tree.children.map((node, index) => toReact(node, index)) }
  } catch {
    return { language: name, nodes: code }
  }
}

function toReact(node: HastNode, key: number): ReactNode {
  if (node.type === 'text') return node.value
  if (node.type !== 'element') return null
  const classes = node.properties['className']
  const className = Array.isArray(classes)
    ? classes.join(' ')
    : typeof classes === 'string'
      ? classes
      : undefined
  return createElement(
    Fragment,
    { key },
    createElement('span', { className }, ...node.children.map((child, index) => toReact(child, index))),
  )
}
