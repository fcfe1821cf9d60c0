// Browser tests of the example app's layout against a real `ankurah serve`:
// a page load requests nothing that fails (the favicon included), the page
// never scrolls sideways at phone widths, buttons keep their size beside
// names that wrap, and screenshots at desktop (1280 px) and phone (390 px)
// width go to test-artifacts/ for a person to look at. Run: node --test e2e/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Server, launchBrowser, missingPrerequisite, screenshot } from "./harness.mjs";

const missing = missingPrerequisite();
if (missing && process.env.CI === "true") {
  throw new Error(`browser tests cannot run under CI=true: ${missing}`);
}

const WAIT = 30_000;

const album = (page, name) => page.locator(`[data-testid=album][data-name="${name}"]`);

const LONG = "The Rise and Fall of Ziggy Stardust and the Spiders from Mars";
const UNBROKEN = "Supercalifragilisticexpialidocious-Extraordinarily-Long-Title";
const albums = [
  { name: "OK Computer", artist: "Radiohead", year: 1997, notes: "Recorded at St Catherine's Court." },
  { name: LONG, artist: "David Bowie", year: 1972 },
  { name: "Blue", artist: "Joni Mitchell", year: 1971, notes: "" },
  { name: UNBROKEN, artist: "A Band With An Unusually Long Name Too", year: 2024 },
  { name: "Kind of Blue", artist: "Miles Davis", year: 1959 },
];

/** Waits until page shows every album. */
async function ready(page) {
  await page.locator('[data-testid=connection][data-state="connected"]').waitFor({ timeout: WAIT });
  await page.locator(`[data-testid=count]:text-is("${albums.length} albums")`).waitFor({ timeout: WAIT });
}

/** How far the page scrolls sideways past the viewport (0 when it does not). */
function overflow(page) {
  return page.evaluate(() => document.scrollingElement.scrollWidth - innerWidth);
}

describe("example app layout in Chromium", { skip: missing }, () => {
  let server, browser, page;

  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
    page = await (await browser.newContext()).newPage();
    page.on("pageerror", (e) => console.error("page error:", e.message));
    await page.goto(server.url + "/");
    await page.locator('[data-testid=connection][data-state="connected"]').waitFor({ timeout: WAIT });
    await page.evaluate(async (list) => {
      const c = globalThis.ankurahClient;
      const names = list.map((a) => a.artist);
      const trx = c.begin();
      for (const name of names) trx.create("artist", { name });
      const ids = await trx.commit();
      await c.transaction((trx) => {
        for (const { notes, artist, ...values } of list) {
          const m = trx.create("album", { ...values, artist: ids[names.indexOf(artist)] });
          if (notes) m.text("notes").insert(0, notes);
        }
      });
    }, albums);
    await ready(page);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("a page load requests nothing that fails, and the favicon is served", async () => {
    const page = await (await browser.newContext()).newPage(); // a first visit: nothing cached
    const failed = [];
    let favicon;
    page.on("response", (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      if (new URL(r.url()).pathname.startsWith("/favicon")) favicon = r;
    });
    page.on("requestfailed", (r) => failed.push(`${r.failure()?.errorText} ${r.url()}`));
    const faviconLoaded = page.waitForResponse((r) => new URL(r.url()).pathname === "/favicon.svg", { timeout: WAIT });
    await page.goto(server.url + "/");
    await ready(page);
    const r = await faviconLoaded;
    await page.waitForLoadState("networkidle");
    assert.equal(r.status(), 200);
    assert.match(r.headers()["content-type"], /^image\/svg\+xml/);
    assert.equal(new URL(favicon.url()).pathname, "/favicon.svg", "no request for /favicon.ico");
    assert.deepEqual(failed, []);
    await page.context().close();
  });

  for (const width of [360, 390]) {
    test(`nothing scrolls sideways at ${width} px, while reading, adding, renaming or deleting`, async () => {
      await page.setViewportSize({ width, height: 800 });
      assert.equal(await overflow(page), 0, "the list");

      await page.getByTestId("new-name").fill("No year");
      await page.getByTestId("new-year").fill("not a year");
      await page.getByTestId("add").click();
      await page.getByTestId("add-error").locator("text=is not a year").waitFor({ timeout: WAIT });
      assert.equal(await overflow(page), 0, "the add form with its message");

      const long = album(page, UNBROKEN);
      await long.getByTestId("edit").click();
      await long.getByTestId("edit-name").fill("");
      await long.getByTestId("save").click();
      await long.getByTestId("edit-error").waitFor({ timeout: WAIT });
      await album(page, LONG).getByTestId("delete").click();
      await album(page, LONG).getByTestId("confirm-delete").waitFor({ timeout: WAIT });
      assert.equal(await overflow(page), 0, "a rename and a delete confirmation open");

      if (width === 390) await screenshot(page, "layout-phone-390-editing");
      await long.getByTestId("cancel-edit").click();
      await album(page, LONG).getByTestId("cancel-delete").click();
      await page.getByTestId("new-name").fill("");
      await page.getByTestId("new-year").fill("");
    });
  }

  test("buttons keep their size beside a name that wraps", async () => {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 800 });
      const box = (name, id) => album(page, name).getByTestId(id).boundingBox();
      const title = await album(page, LONG).getByTestId("album-name").boundingBox();
      const short = await album(page, "Blue").getByTestId("album-name").boundingBox();
      assert.ok(title.height >= 2 * short.height, `at ${width} px the long name wraps (${title.height} px high, one line is ${short.height})`);
      for (const id of ["edit", "delete"]) {
        for (const name of [LONG, UNBROKEN]) {
          const b = await box(name, id);
          const s = await box("Blue", id);
          assert.equal(Math.round(b.height), Math.round(s.height), `${id} beside "${name}" at ${width} px: height`);
          assert.equal(Math.round(b.width), Math.round(s.width), `${id} beside "${name}" at ${width} px: width`);
        }
      }
    }
  });

  test("screenshots at desktop and phone width", async () => {
    for (const [width, height, name] of [
      [1280, 800, "layout-desktop-1280"],
      [390, 844, "layout-phone-390"],
    ]) {
      await page.setViewportSize({ width, height });
      await album(page, "OK Computer").locator('[data-testid=notes]').waitFor({ timeout: WAIT });
      assert.equal(await overflow(page), 0);
      await page.evaluate(() => document.activeElement?.blur());
      await page.mouse.move(0, 0); // no button shown hovered
      await screenshot(page, name);
    }
  });
});
