import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// `pnpm dev`: Vite serves the app with hot reload and proxies the API (WebSocket included) to
// the server; `pnpm start` serves the built `dist/` from the server itself.
const apiTarget = process.env.PARLEY_API_URL ?? 'http://127.0.0.1:3000'

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 700,
    rollupOptions: {
      // @parley/core's modules only declare things (schemas, classes, functions), but Rollup must
      // assume top-level calls have effects and would keep all of core (the orchestrator, the
      // tokenizer) for the two helpers the client uses. Declaring them pure lets it drop the rest.
      treeshake: { moduleSideEffects: (id) => !/[\\/]packages[\\/]core[\\/]src[\\/]/.test(id) },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/trpc': { target: apiTarget, ws: true, changeOrigin: true },
      '/v1': { target: apiTarget, changeOrigin: true },
      '/healthz': { target: apiTarget },
      '/readyz': { target: apiTarget },
    },
  },
})
