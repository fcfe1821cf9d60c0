import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The app is served by `ankurah serve --static dist` beside /ws; in dev,
// Vite proxies /ws to a server on ANKURAH_URL (default 127.0.0.1:9797).
export default defineConfig({
  plugins: [react()],
  resolve: { dedupe: ["react", "react-dom"] },
  server: {
    proxy: { "/ws": { target: "ws://" + (process.env.ANKURAH_URL ?? "127.0.0.1:9797"), ws: true } },
  },
});
