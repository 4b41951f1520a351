/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// `npm run dev` proxies the APIs like deploy/local/console_server.py does in make run.
const upstream = (name: string, fallback: string) => process.env[name] ?? fallback;

export default defineConfig({
  plugins: [vue()],
  build: { target: "es2022", chunkSizeWarningLimit: 1200 },
  server: {
    port: 8180,
    proxy: {
      "/api/petitions": {
        target: upstream("CONSOLE_PETITIONS_URL", "http://127.0.0.1:8101"),
        rewrite: (p) => p.replace(/^\/api\/petitions/, ""),
      },
      "/api/targets": {
        target: upstream("CONSOLE_TARGETS_URL", "http://127.0.0.1:8102"),
        rewrite: (p) => p.replace(/^\/api\/targets/, ""),
      },
      "/api/notifier": {
        target: upstream("CONSOLE_NOTIFIER_URL", "http://127.0.0.1:8103"),
        rewrite: (p) => p.replace(/^\/api\/notifier/, ""),
      },
    },
  },
  test: { environment: "jsdom", include: ["src/**/*.test.ts"] },
});
