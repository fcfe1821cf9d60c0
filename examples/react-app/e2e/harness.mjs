// Shared by the browser tests (e2e/*.test.mjs) and the browser benchmarks
// (bench/browser): builds and runs `ankurah serve --static dist` on a free
// 127.0.0.1 port, and launches Debian's Chromium through playwright-core.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = path.resolve(appDir, "../..");
export const distDir = path.join(appDir, "dist");
/** The example models: `ankurah serve --models` declares their relations (album.artist → artist). */
export const modelsDir = path.join(appDir, "model");
export const artifactsDir = path.join(appDir, "test-artifacts");

/** The browser: $CHROMIUM or Debian's /usr/bin/chromium. */
export const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** DESIGN §10: flags for headless Chromium on this machine (root, no GPU, no network noise). */
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * Reports why the browser tests cannot run (no Chromium, no built app), or
 * undefined. Under CI=true the caller fails instead of skipping.
 */
export function missingPrerequisite() {
  if (!existsSync(chromiumPath)) return `no Chromium at ${chromiumPath} (apt-get install -y chromium)`;
  if (!existsSync(path.join(distDir, "index.html"))) return `the app is not built (npm run build in ${appDir})`;
  if (!existsSync(path.join(distDir, "ankurah.wasm"))) return `dist has no ankurah.wasm (npm run build in ${appDir})`;
  return undefined;
}

export function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

let binary;
/** Builds cmd/ankurah once per process into a temporary directory. */
export function serverBinary() {
  if (binary) return binary;
  const dir = mkdtempSync(path.join(os.tmpdir(), "ankurah-e2e-bin-"));
  binary = path.join(dir, "ankurah");
  execFileSync("go", ["build", "-o", binary, "."], { cwd: path.join(repoDir, "cmd/ankurah"), stdio: "inherit" });
  return binary;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A running `ankurah serve` with its own bolt file; stop() and start() again
 * keep the port and the data.
 */
export class Server {
  constructor(port, dataDir) {
    this.port = port;
    this.dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}`;
    this.proc = undefined;
    this.log = [];
  }

  static async start() {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "ankurah-e2e-data-"));
    const s = new Server(await freePort(), dataDir);
    await s.start();
    return s;
  }

  async start() {
    const bin = serverBinary();
    this.proc = spawn(bin, ["serve", "--addr", `127.0.0.1:${this.port}`, "--storage", `bolt://${path.join(this.dataDir, "ankurah.db")}`, "--static", distDir, "--models", modelsDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise((resolve) => this.proc.once("exit", (code) => resolve(code)));
    this.exited = exited;
    for (const s of [this.proc.stdout, this.proc.stderr]) s.on("data", (d) => this.log.push(String(d)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("running"), 50))]);
      if (code !== "running") throw new Error(`ankurah serve exited with ${code}:\n${this.log.join("")}`);
      try {
        const r = await fetch(this.url + "/");
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`ankurah serve did not answer on ${this.url}:\n${this.log.join("")}`);
    }
  }

  async stop() {
    if (!this.proc) return;
    this.proc.kill("SIGTERM");
    const code = await Promise.race([this.exited, new Promise((r) => setTimeout(() => r("timeout"), 10_000))]);
    if (code === "timeout") {
      this.proc.kill("SIGKILL");
      await this.exited;
    }
    this.proc = undefined;
  }

  async close() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Saves a screenshot of page under test-artifacts/. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
}
