import { defineConfig } from 'vite';

// The built client is committed (web/dist) and embedded into the Go binary, so the
// output must be byte-for-byte reproducible: fixed file names, no hashes, no
// timestamps. The server sets a strict CSP, so nothing may be inlined into
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
        entryFileNames: 'assets/app.js',
        chunkFileNames: 'assets/[name].js',
        assetFileNames: (info) =>
          (info.names ?? []).some((n) => n.endsWith('.css')) ? 'assets/app.css' : 'assets/[name][extname]',
      },
    },
  },
});
