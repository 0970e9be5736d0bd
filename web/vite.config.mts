/**
 * Vite's settings for the web page. `npm ci` and every API start-up build it through
 * scripts/webBuild.ts (into web/dist/<hash>/); `npm run web:dev` serves it with hot reload against
 * an API on 127.0.0.1:8080 (start it with `npm start`).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const api = process.env.P0_API_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist/dev',
    target: 'es2022',
    // Nothing becomes a data: URL (the Content-Security-Policy allows only this origin's files).
    assetsInlineLimit: 0,
    // No inline polyfill script: browsers this page supports preload modules themselves.
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: Object.fromEntries(['/v1', '/auth'].map((prefix) => [prefix, { target: api, changeOrigin: false }])),
  },
});
