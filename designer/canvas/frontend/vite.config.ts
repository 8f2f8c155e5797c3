// Builds the canvas into exactly two files with fixed names, dist/canvas.js (one minified ES module whose default
// export is the Streamlit component) and dist/canvas.css, so the Python side can name them and a rebuild from the
// lockfile is byte-for-byte the committed bundle (no hashes, no timestamps, no source maps).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const here = import.meta.dirname;

export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: `${here}/../dist`,
    emptyOutDir: true,
    sourcemap: false,
    minify: true,
    cssCodeSplit: false,
    modulePreload: false,
    rollupOptions: {
      input: `${here}/src/main.tsx`,
      preserveEntrySignatures: "exports-only",
      output: {
        format: "es",
        entryFileNames: "canvas.js",
        assetFileNames: "canvas[extname]",
        codeSplitting: false,
      },
    },
  },
});
