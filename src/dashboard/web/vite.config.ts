// Builds the dashboard's page into dist/dashboard/app, where the server side (src/dashboard/static.ts)
// serves it from. Relative asset URLs ('./') so the page works under any mount path.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/dashboard/app', import.meta.url)),
    emptyOutDir: true,
    // The CSP allows no inline script or style, and no data: scripts.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
  },
});
