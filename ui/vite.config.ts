import { defineConfig } from "vite";

// The API serves the built files from ui/dist; `npm run dev` proxies /api to a running `reactbin dev`.
export default defineConfig({
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  build: {
    target: "es2022",
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { "/api": process.env.REACTBIN_API ?? "http://127.0.0.1:8000" },
  },
});
