import { defineConfig } from "vite";

/** Preact through Vite's own JSX transform (automatic runtime): no framework plugin needed. */
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    target: "es2022",
  },
});
