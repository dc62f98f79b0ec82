import { defineConfig } from "vite";

// Tauri expects a fixed dev port; tauri.conf.json's build.devUrl must be
// http://localhost:1420 and build.frontendDist ../../ui/dist (relative to the
// conf file) or wherever src-tauri sits.
const host = process.env.TAURI_DEV_HOST;

export default defineConfig({
  clearScreen: false,
  esbuild: {
    jsx: "automatic",
    jsxImportSource: "preact",
  },
  server: {
    port: 1420,
    strictPort: true,
    host: host || "localhost",
    hmr: host ? { protocol: "ws", host, port: 1421 } : undefined,
    watch: { ignored: ["**/src-tauri/**", "**/target/**"] },
  },
  preview: {
    // Playwright serves the built bundle here (see tests/e2e/playwright.config.ts), under the
    // same strict CSP the packaged app should use, so a violation fails the tests.
    port: 4173,
    strictPort: true,
    host: "localhost",
    headers: {
      "Content-Security-Policy":
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ipc: http://ipc.localhost; object-src 'none'; base-uri 'none'",
    },
  },
  envPrefix: ["VITE_", "TAURI_ENV_*"],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.50 / WebView2 / WKWebView are all recent.
    target: "es2021",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
});
