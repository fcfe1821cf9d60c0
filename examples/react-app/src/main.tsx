import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { load } from "@ankurah/client";
import { App } from "./App.tsx";
import { declareRelations } from "./models.ts";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);
root.render(<p data-testid="loading">Loading…</p>);

// One IndexedDB database per origin and ?db= name (browser tests use the
// default; separate browser contexts have separate IndexedDB).
const params = new URLSearchParams(location.search);
load({ wasmUrl: "/ankurah.wasm", wasmExecUrl: "/wasm_exec.js", db: params.get("db") ?? "ankurah-albums" }).then(
  (client) => {
    declareRelations(client);
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    client.connect(scheme + location.host + "/ws", () => sessionStorage.getItem("token") ?? "demo", { maxBackoffMs: 3000 });
    (globalThis as { ankurahClient?: unknown }).ankurahClient = client; // for tests and the console
    root.render(
      <StrictMode>
        <App client={client} />
      </StrictMode>,
    );
  },
  (err: Error) => root.render(<p role="alert">Could not start: {err.message}</p>),
);
