import { defineConfig } from 'drizzle-kit'

// Generation only needs the schema: `pnpm --filter @parley/persistence db:generate`.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './drizzle',
})
