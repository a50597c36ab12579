import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { defineConfig } from "vite";

import { precompress } from "./vite.config";

// The service worker, built after the app (`npm run build` runs both): one classic script, dist/sw.js, served from
// the root so that its scope is the whole app. It precaches the app shell: every file the app build wrote (hashed
// assets, icons, the manifest) and "/" (index.html); its version is a hash of their contents, so a new build makes
// a new worker, which replaces the old shell.
const dist = join(import.meta.dirname, "dist");
const SKIP = new Set(["sw.js", "index.html"]);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name.startsWith(".")) return [];
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

// The precompressed copies (.br, .gz) are for the server to send; the browser caches what it decoded.
const built = files(dist).filter((path) => !SKIP.has(relative(dist, path)) && !/\.(br|gz)$/.test(path));
const shell = ["/", ...built.map((path) => "/" + relative(dist, path).split(sep).join("/"))].sort();
const version = createHash("sha256");
for (const path of [join(dist, "index.html"), ...built].sort()) version.update(readFileSync(path));

export default defineConfig({
  publicDir: false,
  define: {
    __SHELL__: JSON.stringify(shell),
    __VERSION__: JSON.stringify(version.digest("hex").slice(0, 16)),
  },
  plugins: [precompress()],
  build: {
    outDir: "dist",
    emptyOutDir: false,
    target: "es2022",
    copyPublicDir: false,
    lib: {
      entry: join(import.meta.dirname, "src", "sw", "sw.ts"),
      formats: ["iife"],
      name: "reactbinServiceWorker",
      fileName: () => "sw.js",
    },
  },
});
