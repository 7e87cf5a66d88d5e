import { describe, expect, it } from 'vitest'
import { branchPosition } from '../src/lib/branches.ts'

describe('branch switcher', () => {
  const ids = ['resp_a', 'resp_b', 'resp_c']

  it('shows the position among siblings with both neighbours', () => {
    expect(branchPosition(ids, 'resp_b')).toEqual({
      index: 2,
      total: 3,
      previousId: 'resp_a',
      nextId: 'resp_c',
      label: '2/3',
    })
  })

  it('has no previous at the first and no next at the last sibling', () => {
    expect(branchPosition(ids, 'resp_a')?.previousId).toBeNull()
    expect(branchPosition(ids, 'resp_c')?.nextId).toBeNull()
    expect(branchPosition(ids, 'resp_c')?.label).toBe('3/3')
  })

  it('is hidden for a turn without siblings or not among them', () => {
    expect(branchPosition(['resp_a'], 'resp_a')).toBeNull()
    expect(branchPosition(ids, 'resp_x')).toBeNull()
  })
})
