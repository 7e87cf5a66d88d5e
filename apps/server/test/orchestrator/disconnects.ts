import fc from 'fast-check'
import type { Disconnect as Plan } from './harness.ts'

/** Random disconnect points for the resume properties. */
export const Disconnect: fc.Arbitrary<Plan> = fc.record({
  after: fc.integer({ min: 0, max: 8 }),
  how: fc.constantFrom<'break' | 'abort'>('break', 'abort'),
  pauseMs: fc.integer({ min: 0, max: 6 }),
})
