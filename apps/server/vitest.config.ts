import { defineConfig } from 'vitest/config'

// Each suite starts real servers (PGlite or a Postgres cluster): generous limits for a busy machine.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
