import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

// Text files the server sends precompressed (src/reactbin/routes/ui.py): never images, which are compressed already.
const TEXT = /\.(html|js|mjs|css|json|webmanifest|txt)$/;

/** After the build, a `.br` (quality 11) and a `.gz` (level 9) copy of each text file, kept only when smaller. */
export function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "reactbin-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) => {
          const path = join(dir, name);
          return statSync(path).isDirectory() ? walk(path) : [path];
        });
      for (const path of walk(outDir).filter((file) => TEXT.test(file))) {
        const raw = readFileSync(path);
        const variants: [string, Buffer][] = [
          [".br", brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })],
          [".gz", gzipSync(raw, { level: 9 })],
        ];
        for (const [suffix, packed] of variants) {
          if (packed.length < raw.length) writeFileSync(path + suffix, packed);
        }
      }
    },
  };
}

// The API serves the built files from ui/dist; `npm run dev` proxies /api to a running `reactbin dev`.
export default defineConfig({
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  build: {
    target: "es2022",
    assetsInlineLimit: 0,
  },
  plugins: [precompress()],
  server: {
    proxy: { "/api": process.env.REACTBIN_API ?? "http://127.0.0.1:8000" },
  },
});
