// Browser benchmarks of the Ankurah client (docs/benchmarks.md, "Browser"):
//   - ankurah.wasm size, raw and gzip -9;
//   - page load to the first live-query result with 1,000 entities, cold
//     (empty IndexedDB) and warm (reload), against the baseline of loading
//     and instantiating the same wasm with no node work;
//   - an edit in one browser context until it is visible in the other's
//     DOM (p50/p90), against the baseline of the editor's own commit
//     round trip (its promise resolves when the server accepted it).
// Usage (after `npm ci && npm run build` in examples/react-app):
//   node bench/browser/bench.mjs [--entities 1000] [--loads 5] [--edits 30]
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import os from "node:os";
import { Server, distDir, launchBrowser, missingPrerequisite } from "../../examples/react-app/e2e/harness.mjs";

const opt = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const ENTITIES = opt("entities", 1000);
const LOADS = opt("loads", 5);
const EDITS = opt("edits", 30);

const missing = missingPrerequisite();
if (missing) {
  console.error(`bench: ${missing}`);
  process.exit(1);
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

const wasm = readFileSync(path.join(distDir, "ankurah.wasm"));
const gz = gzipSync(wasm, { level: 9 });

const server = await Server.start();
const browser = await launchBrowser();
const rows = [];
try {
  // Seed the server through one client, in batches of 250 per commit.
  {
    const page = await (await browser.newContext()).newPage();
    await page.goto(server.url + "/");
    await page.locator('[data-testid=connection][data-state="connected"]').waitFor();
    await page.evaluate(async (n) => {
      const c = globalThis.ankurahClient;
      const trx = c.begin();
      trx.create("artist", { name: "Bench" });
      const [artist] = await trx.commit();
      for (let start = 0; start < n; start += 250) {
        await c.transaction((t) => {
          for (let i = start; i < Math.min(n, start + 250); i++) t.create("album", { name: `Album ${String(i).padStart(5, "0")}`, artist, year: 1950 + (i % 70) });
        });
      }
    }, ENTITIES);
    await page.context().close();
  }

  // Baseline: fetch + instantiate the wasm and run Go's main (no IndexedDB, no network).
  const base = [];
  for (let i = 0; i < LOADS; i++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(server.url + "/wasm_exec.js"); // same origin, nothing of the app
    base.push(
      await page.evaluate(async () => {
        const t0 = performance.now();
        await new Promise((res, rej) => {
          const s = document.createElement("script");
          s.src = "/wasm_exec.js";
          s.onload = res;
          s.onerror = rej;
          document.head.appendChild(s);
        });
        const go = new globalThis.Go();
        const { instance } = await WebAssembly.instantiateStreaming(fetch("/ankurah.wasm"), go.importObject);
        void go.run(instance);
        return performance.now() - t0;
      }),
    );
    await ctx.close();
  }

  // Page load (navigation start) to the first live-query result.
  const firstResult = async (page) =>
    page.evaluate(async () => {
      while (performance.getEntriesByName("ankurah-first-result").length === 0) await new Promise((r) => setTimeout(r, 5));
      return performance.getEntriesByName("ankurah-first-result")[0].startTime;
    });
  const cold = [];
  const warm = [];
  for (let i = 0; i < LOADS; i++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(server.url + "/");
    cold.push(await firstResult(page));
    const count = await page.getByTestId("count").textContent();
    if (!count.startsWith(String(ENTITIES))) throw new Error(`cold load shows "${count}", want ${ENTITIES} albums`);
    await page.reload();
    warm.push(await firstResult(page));
    await ctx.close();
  }

  // Edit in a, visible in b's DOM.
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  for (const p of [a, b]) {
    await p.goto(server.url + "/?edits");
    await p.locator('[data-testid=connection][data-state="connected"]').waitFor();
    await firstResult(p);
  }
  const target = await a.evaluate(async () => (await globalThis.ankurahClient.fetch("album", "name = ?", "Album 00000"))[0].id);
  const seen = [];
  const commit = [];
  for (let i = 0; i < EDITS; i++) {
    const name = `Album 00000 (edit ${i})`;
    const waiting = b.evaluate(
      (name) =>
        new Promise((resolve) => {
          const sel = `[data-testid=album][data-name="${CSS.escape(name)}"]`;
          const check = () => document.querySelector(sel) && (obs.disconnect(), resolve(performance.timeOrigin + performance.now()));
          const obs = new MutationObserver(check);
          obs.observe(document.body, { subtree: true, childList: true, attributes: true });
          check();
        }),
      name,
    );
    const [t0, t1] = await a.evaluate(
      async ({ id, name }) => {
        const t0 = performance.timeOrigin + performance.now();
        await globalThis.ankurahClient.transaction(async (t) => (await t.edit("album", id)).set({ name }));
        return [t0, performance.timeOrigin + performance.now()];
      },
      { id: target, name },
    );
    const tb = await waiting;
    seen.push(tb - t0);
    commit.push(t1 - t0);
  }

  rows.push(["ankurah.wasm raw", `${wasm.length} bytes`]);
  rows.push(["ankurah.wasm gzip -9", `${gz.length} bytes (budget 2621440)`]);
  rows.push([`baseline: load + instantiate wasm only (median of ${LOADS})`, ms(pct(base, 50))]);
  rows.push([`page load → first live-query result, ${ENTITIES} entities, cold IndexedDB (median of ${LOADS})`, ms(pct(cold, 50))]);
  rows.push([`page load → first live-query result, ${ENTITIES} entities, warm reload (median of ${LOADS})`, ms(pct(warm, 50))]);
  rows.push([`baseline: editor's commit round trip (p50 of ${EDITS})`, ms(pct(commit, 50))]);
  rows.push([`edit in context A → visible in context B's DOM (p50 of ${EDITS})`, ms(pct(seen, 50))]);
  rows.push([`edit in context A → visible in context B's DOM (p90 of ${EDITS})`, ms(pct(seen, 90))]);
} finally {
  await browser.close();
  await server.close();
}

console.log(`machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${os.platform()} ${os.release()}, node ${process.version}`);
console.log("| measurement | result |\n|---|---|");
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
