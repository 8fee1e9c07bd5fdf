import path from "node:path";
import { defineConfig } from "vite";

/**
 * Builds the self-hosted GraphiQL page into dist/ui. The service serves the
 * page at GET /graphql (Accept: text/html) and its assets under /graphiql/.
 * Everything, Monaco's workers and fonts included, is bundled: the page makes
 * no request outside the service.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "/graphiql/",
  logLevel: "error",
  build: {
    outDir: path.resolve(import.meta.dirname, "..", "dist", "ui"),
    emptyOutDir: true,
    chunkSizeWarningLimit: 8_000,
    reportCompressedSize: false,
  },
  esbuild: { jsx: "automatic" },
});
