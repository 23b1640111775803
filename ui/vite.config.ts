import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page is bundled once at build time into dist/ui, which the admin server serves as static files: nothing is
// fetched from a CDN at run time, so the dashboard works on an isolated network.
const uiDir = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: uiDir,
  base: '/',
  // No public/ folder: every file the page needs is imported, so it gets a content hash.
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // Hashed names under assets/ are what the server marks immutable.
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
  },
  logLevel: 'warn',
});
