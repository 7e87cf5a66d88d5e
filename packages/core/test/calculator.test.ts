import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CalculatorError, evaluateExpression } from '../src/tools/calculator.ts'

describe('calculator', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['2 ^ 3 ^ 2', 512],
    ['-2 ^ 2', -4],
    ['(-2) ^ 2', 4],
    ['10 % 4', 2],
    ['7 / 2', 3.5],
    ['.5 + 1.25', 1.75],
    ['1e3 - 1', 999],
    ['--3', 3],
    ['2 * -3', -6],
    ['  ( ( 4 ) )  ', 4],
  ])('%s = %d', (expression, expected) => {
    expect(evaluateExpression(expression)).toBeCloseTo(expected, 12)
  })

  it.each([
    ['', 'empty'],
    ['1 +', 'end of input'],
    ['(1 + 2', "Expected ')'"],
    ['1 / 0', 'Division by zero'],
    ['5 % 0', 'Division by zero'],
    ['2 ^ 99999', 'not a finite number'],
    ['process.exit()', "Unexpected character 'p'"],
    ['1 2', "Unexpected '2'"],
    ['Math.PI', "Unexpected character 'M'"],
  ])('rejects %j (%s)', (expression, message) => {
    expect(() => evaluateExpression(expression)).toThrow(CalculatorError)
    expect(() => evaluateExpression(expression)).toThrow(message)
  })

  it('refuses deep nesting and long input instead of overflowing the stack', () => {
    expect(() => evaluateExpression(`${'('.repeat(200)}1${')'.repeat(200)}`)).toThrow('nested')
    expect(() => evaluateExpression('-'.repeat(500) + '1')).toThrow('nested')
    expect(() => evaluateExpression('1+'.repeat(600) + '1')).toThrow('longer than')
  })

  it('agrees with integer arithmetic on random sums and products', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: -50, max: 50 }),
        (a, b, c) => {
          expect(evaluateExpression(`${a} + ${b} * (${c})`)).toBe(a + b * c)
          expect(evaluateExpression(`(${a} - ${b}) * ${c}`)).toBe((a - b) * c)
        },
      ),
    )
  })
})
