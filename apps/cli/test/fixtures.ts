/** Import files as the real sources write them, generated. */

export function legacyChatFile(count: number, options: { prefix?: string; textSize?: number } = {}) {
  const prefix = options.prefix ?? 'legacy'
  const file: Record<string, unknown> = {}
  for (let index = 0; index < count; index += 1) {
    const id = `${prefix}-${index}`
    const start = 1_700_000_000 + index * 1_000
    const filler = options.textSize ? ` ${'lorem ipsum '.repeat(Math.ceil(options.textSize / 12))}` : ''
    file[id] = {
      data: { id, created_at: start, metadata: {}, object: 'conversation' },
      chat_name: `Legacy chat ${index}`,
      last_update: start + 60,
      messages: [
        { role: 'user', text: `Question ${index}${filler}`, timestamp: start + 10, response_id: null },
        {
          role: 'assistant',
          text: `Answer ${index}`,
          timestamp: start + 20,
          response_id: `resp_old_${index}_1`,
        },
        { role: 'user', text: `Follow-up ${index}`, timestamp: start + 30, response_id: null },
        {
          role: 'assistant',
          text: `More about ${index}`,
          timestamp: start + 40,
          response_id: `resp_old_${index}_2`,
        },
      ],
      last_response_id: `resp_old_${index}_2`,
    }
  }
  return file
}

export function chatGptExport(count: number) {
  return Array.from({ length: count }, (_, index) => {
    const at = 1_710_000_000 + index * 1_000
    const node = (id: string, parent: string | null, children: string[], message: unknown) => ({
      id,
      parent,
      children,
      message,
    })
    const message = (id: string, role: string, text: string, extra: Record<string, unknown> = {}) => ({
      id,
      author: { role, name: null, metadata: {} },
      create_time: at + 5,
      update_time: null,
      content: { content_type: 'text', parts: [text] },
      status: 'finished_successfully',
      end_turn: true,
      weight: 1,
      metadata: { model_slug: 'gpt-4o' },
      recipient: 'all',
      ...extra,
    })
    return {
      title: `ChatGPT chat ${index}`,
      create_time: at,
      update_time: at + 100,
      conversation_id: `cg-${index}`,
      id: `cg-${index}`,
      current_node: 'a2',
      mapping: {
        root: node('root', null, ['sys'], null),
        sys: node('sys', 'root', ['u1'], message('sys', 'system', '')),
        u1: node('u1', 'sys', ['a1', 'a2'], message('u1', 'user', `Hello ${index}`)),
        a1: node('a1', 'u1', [], message('a1', 'assistant', 'an answer that was regenerated')),
        a2: node('a2', 'u1', [], message('a2', 'assistant', `Hi there ${index}`)),
      },
    }
  })
}
