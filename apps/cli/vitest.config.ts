import { defineConfig } from 'vitest/config'

// Every test runs real processes (a server, the CLI through tsx) on a small shared machine:
// generous timeouts, and one file at a time so servers do not compete for the CPU.
export default defineConfig({
  test: {
    testTimeout: 90_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
