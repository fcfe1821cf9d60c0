// Browser test of a live COUNT (useCount, kept by the server): the app's
// "of N" total follows albums added and deleted in another browser context,
// and does not follow the list's filter. Run: node --test e2e/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Server, launchBrowser, missingPrerequisite, screenshot } from "./harness.mjs";

const missing = missingPrerequisite();
if (missing && process.env.CI === "true") {
  throw new Error(`browser tests cannot run under CI=true: ${missing}`);
}

const WAIT = 30_000;

async function totalIs(page, n) {
  await page.locator(`[data-testid=total][data-total="${n}"]`).waitFor({ timeout: WAIT });
}

async function addAlbum(page, name, artist, year) {
  await page.getByTestId("new-name").fill(name);
  await page.getByTestId("new-artist").fill(artist);
  await page.getByTestId("new-year").fill(String(year));
  await page.getByTestId("add").click();
  await page.locator(`[data-testid=album][data-name="${name}"]`).waitFor({ timeout: WAIT });
}

describe("live count in Chromium", { skip: missing }, () => {
  let server, browser, a, b;

  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
    a = await (await browser.newContext()).newPage();
    b = await (await browser.newContext()).newPage();
    for (const p of [a, b]) {
      p.on("pageerror", (e) => console.error("page error:", e.message));
      await p.goto(server.url + "/");
      await p.locator(`[data-testid=connection][data-state="connected"]`).waitFor({ timeout: WAIT });
    }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the total follows the other context's albums and ignores the filter", async () => {
    await totalIs(a, 0);
    await totalIs(b, 0);
    await addAlbum(a, "Showbiz", "Muse", 1999);
    await totalIs(b, 1);
    await addAlbum(b, "Absolution", "Muse", 2003);
    await totalIs(a, 2);
    await a.getByTestId("min-year").fill("2000");
    await a.locator(`[data-testid=album][data-name="Showbiz"]`).waitFor({ state: "detached", timeout: WAIT });
    await totalIs(a, 2);
    assert.equal(await a.getByTestId("albums").locator("[data-testid=album]").count(), 1);
    await screenshot(a, "live-count");
  });
});
