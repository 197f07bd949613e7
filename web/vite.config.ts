import { defineConfig } from 'vite';
// @ts-expect-error a plain ES module without types
import { pwa } from './build/pwa.mjs';

// The built client is committed (web/dist) and embedded into the Go binary, so the
// output must be byte-for-byte reproducible: names carry content hashes (the
// server caches those for a year), no timestamps. build/pwa.mjs adds the
// service worker, manifest, icons and the .br/.gz forms the server serves. The server sets a strict CSP, so nothing may be inlined into
// index.html (no inline scripts or styles, no eval).
//
// Vite 7, not 8: Vite 8 lists an optional dependency (napi-windows-process-start-time)
// that the package registry used here does not serve, which leaves the lock file
// out of sync and makes `npm ci` fail.
export default defineConfig({
  base: '/',
  // `npm run dev` serves the client with hot reload and passes API calls to a
  // tkesj server on its default address (`go run ./cmd/tkesj serve`).
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/healthz': 'http://127.0.0.1:8080',
    },
  },
  plugins: [pwa()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2020',
    rollupOptions: {
      output: {
        entryFileNames: 'assets/app-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: (info) =>
          (info.names ?? []).some((n) => n.endsWith('.css')) ? 'assets/app-[hash].css' : 'assets/[name]-[hash][extname]',
      },
    },
  },
});
