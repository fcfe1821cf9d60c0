import { defineConfig } from "vite";

// The page is served by `ankurah serve` at /inspect/, embedded in the binary:
// build.sh writes it into cmd/ankurah/inspector. In dev, Vite proxies the
// API and /ws to a server on ANKURAH_URL (default 127.0.0.1:9797).
const target = process.env.ANKURAH_URL ?? "127.0.0.1:9797";
export default defineConfig({
  base: "/inspect/",
  build: { outDir: "../../cmd/ankurah/inspector", emptyOutDir: false, assetsDir: "assets", sourcemap: false },
  server: {
    proxy: {
      "/inspect/api": { target: "http://" + target },
      "/ws": { target: "ws://" + target, ws: true },
    },
  },
});
