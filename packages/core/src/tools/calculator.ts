/**
 * A safe arithmetic evaluator: numbers (decimals, exponents), + - * / % ^, unary signs and
 * parentheses. A hand-written recursive-descent parser: nothing is ever evaluated as code.
 * `^` is right-associative and binds tighter than unary minus (-2^2 = -4).
 */

export class CalculatorError extends Error {
  override name = 'CalculatorError'
}

const MAX_EXPRESSION_CHARS = 1000
const MAX_DEPTH = 64

type Token = { kind: 'number'; value: number; at: number } | { kind: 'op'; value: string; at: number }

function tokenize(expression: string): Token[] {
  const tokens: Token[] = []
  let at = 0
  while (at < expression.length) {
    const char = expression[at]!
    if (/\s/.test(char)) {
      at++
      continue
    }
    const number = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(expression.slice(at))
    if (number) {
      tokens.push({ kind: 'number', value: Number(number[0]), at })
      at += number[0].length
      continue
    }
    if ('+-*/%^()'.includes(char)) {
      tokens.push({ kind: 'op', value: char, at })
      at++
      continue
    }
    throw new CalculatorError(`Unexpected character '${char}' at position ${at + 1}`)
  }
  return tokens
}

export function evaluateExpression(expression: string): number {
  if (expression.length > MAX_EXPRESSION_CHARS) {
    throw new CalculatorError(`Expression is longer than ${MAX_EXPRESSION_CHARS} characters`)
  }
  const tokens = tokenize(expression)
  if (tokens.length === 0) throw new CalculatorError('Expression is empty')
  let position = 0
  let depth = 0

  const peek = (): Token | undefined => tokens[position]
  const isOp = (value: string): boolean => {
    const token = peek()
    return token?.kind === 'op' && token.value === value
  }
  const describe = (token: Token | undefined): string =>
    token
      ? `'${token.kind === 'number' ? token.value : token.value}' at position ${token.at + 1}`
      : 'end of input'

  function nested<T>(parse: () => T): T {
    if (++depth > MAX_DEPTH) throw new CalculatorError(`Expression is nested more than ${MAX_DEPTH} levels`)
    try {
      return parse()
    } finally {
      depth--
    }
  }

  function additive(): number {
    let value = multiplicative()
    while (isOp('+') || isOp('-')) {
      const op = tokens[position++]!.value
      const right = multiplicative()
      value = op === '+' ? value + right : value - right
    }
    return value
  }

  function multiplicative(): number {
    let value = unary()
    while (isOp('*') || isOp('/') || isOp('%')) {
      const op = tokens[position++]!.value
      const right = unary()
      if ((op === '/' || op === '%') && right === 0) throw new CalculatorError('Division by zero')
      value = op === '*' ? value * right : op === '/' ? value / right : value % right
    }
    return value
  }

  function unary(): number {
    if (isOp('-') || isOp('+')) {
      const op = tokens[position++]!.value
      return nested(() => (op === '-' ? -unary() : unary()))
    }
    return power()
  }

  function power(): number {
    const base = primary()
    if (isOp('^')) {
      position++
      return base ** nested(unary)
    }
    return base
  }

  function primary(): number {
    const token = peek()
    if (token?.kind === 'number') {
      position++
      return token.value
    }
    if (isOp('(')) {
      position++
      const value = nested(additive)
      if (!isOp(')')) throw new CalculatorError(`Expected ')' but found ${describe(peek())}`)
      position++
      return value
    }
    throw new CalculatorError(`Expected a number or '(' but found ${describe(token)}`)
  }

  const value = additive()
  if (position < tokens.length) throw new CalculatorError(`Unexpected ${describe(peek())}`)
  if (!Number.isFinite(value)) throw new CalculatorError('Result is not a finite number')
  return value
}
