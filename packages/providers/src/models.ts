/**
 * Context windows (tokens) of well-known models, for truncation. Longest prefix wins, so dated
 * snapshots (`gpt-4o-2024-08-06`) and provider prefixes (`openai/gpt-4o`) resolve too.
 * Unknown models answer null: the orchestrator then does not truncate by budget.
 */
const CONTEXT_WINDOWS: readonly (readonly [prefix: string, tokens: number])[] = [
  ['parley-demo', 128_000],
  ['gpt-5', 400_000],
  ['gpt-4.1', 1_047_576],
  ['gpt-4o', 128_000],
  ['gpt-4-turbo', 128_000],
  ['gpt-4', 8_192],
  ['gpt-3.5-turbo', 16_385],
  ['o4-mini', 200_000],
  ['o3', 200_000],
  ['o1', 200_000],
  ['gpt-oss', 131_072],
  ['llama3.1', 131_072],
  ['llama3.2', 131_072],
  ['qwen2.5', 32_768],
  ['mistral', 32_768],
]

export function contextWindowOf(model: string): number | null {
  const name = (model.split('/').at(-1) ?? model).toLowerCase()
  let best: readonly [string, number] | undefined
  for (const entry of CONTEXT_WINDOWS) {
    if (name.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry
  }
  return best ? best[1] : null
}
