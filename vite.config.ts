import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console: sources in console/, built into dist/console, served by Express under
// /console (src/http/routes/console.routes.ts). Everything is bundled: no CDN, no web fonts.
export default defineConfig({
  root: fileURLToPath(new URL('./console', import.meta.url)),
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: process.env.CONSOLE_OUT_DIR ?? fileURLToPath(new URL('./dist/console', import.meta.url)),
    emptyOutDir: true,
    // Small assets inlined as data: URLs would need a looser CSP for fonts; keep them as files.
    assetsInlineLimit: 0,
    // Vite's modulepreload polyfill is injected as code in the entry chunk, not inline.
    sourcemap: false,
  },
});
