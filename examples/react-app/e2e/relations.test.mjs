// Browser tests of the example app's relation (album.artist → artist) and
// live counts, against a real `ankurah serve --models` that declares the
// relation: each row shows its artist's current name (an include), the
// artist filter (`artist.name = ?`, a traversal) shows exactly that
// artist's albums, renaming an artist in another browser context or from
// the server's command line moves albums in and out of the filtered list
// live, and the counts follow another context's additions and deletions.
// Run: node --test e2e/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Server, launchBrowser, missingPrerequisite, modelsDir, screenshot, serverBinary } from "./harness.mjs";

const missing = missingPrerequisite();
if (missing && process.env.CI === "true") {
  throw new Error(`browser tests cannot run under CI=true: ${missing}`);
}

const WAIT = 30_000;

const album = (page, name) => page.locator(`[data-testid=album][data-name="${name}"]`);
const artist = (page, name) => page.locator(`[data-testid=artist][data-name="${name}"]`);

/** The album names the page shows, in order. */
function shown(page) {
  return page.evaluate(() => [...document.querySelectorAll("[data-testid=album]")].map((e) => e.getAttribute("data-name")));
}

/** Waits until the page shows exactly the albums names, in this order. */
async function listIs(page, names) {
  try {
    await page.waitForFunction(
      (want) => {
        const got = [...document.querySelectorAll("[data-testid=album]")].map((e) => e.getAttribute("data-name"));
        return got.length === want.length && got.every((n, i) => n === want[i]);
      },
      names,
      { timeout: WAIT },
    );
  } catch (e) {
    throw new Error(`the list shows ${JSON.stringify(await shown(page))}, want ${JSON.stringify(names)}: ${e.message}`);
  }
}

/** Waits until the album's row shows artist as its artist's name. */
async function artistShown(page, albumName, artistName) {
  await page.locator(`[data-testid=album][data-name="${albumName}"][data-artist="${artistName}"]`).waitFor({ timeout: WAIT });
  assert.equal(await album(page, albumName).getByTestId("album-artist").textContent(), artistName);
}

async function albumsOf(page, artistName, n) {
  await page.locator(`[data-testid=artist][data-name="${artistName}"][data-albums="${n}"]`).waitFor({ timeout: WAIT });
}

async function totalIs(page, n) {
  await page.locator(`[data-testid=total][data-total="${n}"]`).waitFor({ timeout: WAIT });
}

async function addAlbum(page, name, artistName, year) {
  await page.getByTestId("new-name").fill(name);
  await page.getByTestId("new-artist").fill(artistName);
  await page.getByTestId("new-year").fill(String(year));
  await page.getByTestId("add").click();
  await album(page, name).waitFor({ timeout: WAIT });
}

async function renameArtist(page, from, to) {
  const row = artist(page, from);
  await row.getByTestId("rename-artist").click();
  await row.getByTestId("artist-name-edit").fill(to);
  await row.getByTestId("save-artist").click();
  await artist(page, to).waitFor({ timeout: WAIT });
}

/** The id of the artist named name, as the page's node reads it. */
function artistID(page, name) {
  return page.evaluate(async (n) => {
    const found = await globalThis.ankurahClient.fetch("artist", "name = ?", n);
    if (found.length !== 1) throw new Error(`${found.length} artists named ${n}`);
    return found[0].id;
  }, name);
}

describe("relations and live counts in Chromium", { skip: missing }, () => {
  let server, browser, a, b;

  /** Runs the ankurah command line against the server, with the example models. */
  async function cli(...args) {
    const [cmd, ...rest] = args;
    const { stdout } = await promisify(execFile)(serverBinary(), [cmd, "--server", `ws://127.0.0.1:${server.port}/ws`, "--models", modelsDir, ...rest]);
    return stdout.trim();
  }

  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
    a = await (await browser.newContext()).newPage();
    b = await (await browser.newContext()).newPage();
    for (const p of [a, b]) {
      p.on("pageerror", (e) => console.error("page error:", e.message));
      if (process.env.E2E_CONSOLE) p.on("console", (m) => console.error(`[${p === a ? "a" : "b"}] ${m.text()}`));
      await p.goto(server.url + "/");
      await p.locator(`[data-testid=connection][data-state="connected"]`).waitFor({ timeout: WAIT });
    }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("each album shows its artist's name, in both contexts, with a live count per artist", async () => {
    await addAlbum(a, "Showbiz", "Muse", 1999);
    await artist(a, "Muse").waitFor({ timeout: WAIT }); // the next Muse album refers to the same artist
    await addAlbum(a, "Absolution", "Muse", 2003);
    await addAlbum(a, "OK Computer", "Radiohead", 1997);
    for (const p of [a, b]) {
      await listIs(p, ["OK Computer", "Showbiz", "Absolution"]);
      await artistShown(p, "Showbiz", "Muse");
      await artistShown(p, "Absolution", "Muse");
      await artistShown(p, "OK Computer", "Radiohead");
      await albumsOf(p, "Muse", 2);
      await albumsOf(p, "Radiohead", 1);
      await totalIs(p, 3);
    }
    assert.equal(await b.getByTestId("artist").count(), 2, "one artist per name");
  });

  test("filtering by artist name shows exactly that artist's albums", async () => {
    await a.getByTestId("artist-filter").fill("Muse");
    await listIs(a, ["Showbiz", "Absolution"]);
    await a.locator(`[data-testid=count]:text-is("2 albums")`).waitFor({ timeout: WAIT });
    await totalIs(a, 3); // the total does not follow the filter
    await a.getByTestId("artist-filter").fill("Radiohead");
    await listIs(a, ["OK Computer"]);
    await a.getByTestId("artist-filter").fill("Nobody");
    await listIs(a, []);
    await a.locator(`.empty:text-is("No albums by Nobody.")`).waitFor({ timeout: WAIT });
    await a.getByTestId("artist-filter").fill("Muse");
    await listIs(a, ["Showbiz", "Absolution"]);
    await screenshot(a, "relations-01-filtered-by-artist");
  });

  test("renaming an artist in another context renames its rows and moves them out of and into the filter", async () => {
    await renameArtist(b, "Muse", "Muse (band)");
    // a filters by "Muse": both albums leave as soon as the artist is renamed.
    await listIs(a, []);
    // The rows of the renamed artist show its new name where they are listed.
    await artistShown(b, "Showbiz", "Muse (band)");
    await artistShown(b, "Absolution", "Muse (band)");
    // Another artist renamed to the filtered name brings its albums in.
    await renameArtist(b, "Radiohead", "Muse");
    await listIs(a, ["OK Computer"]);
    await artistShown(a, "OK Computer", "Muse");
    await screenshot(a, "relations-02-renamed-elsewhere");
  });

  test("renaming an artist from the server's command line moves its albums into the filter", async () => {
    const id = await artistID(b, "Muse (band)");
    await cli("set", "artist", id, "name=Muse");
    await listIs(a, ["OK Computer", "Showbiz", "Absolution"]);
    for (const name of ["OK Computer", "Showbiz", "Absolution"]) await artistShown(a, name, "Muse");
    await cli("set", "artist", id, "name=Muse (band)");
    await listIs(a, ["OK Computer"]);
    await artistShown(b, "Showbiz", "Muse (band)");
  });

  test("the counts follow albums added and deleted in another context", async () => {
    await totalIs(a, 3);
    await albumsOf(a, "Muse (band)", 2);
    await albumsOf(a, "Muse", 1);
    // b's artists are current before it adds by name (so it refers to the artist, not a new one).
    await albumsOf(b, "Muse (band)", 2);
    await addAlbum(b, "Drones", "Muse (band)", 2015);
    await totalIs(a, 4);
    await albumsOf(a, "Muse (band)", 3);
    await listIs(a, ["OK Computer"]); // not by the filtered artist

    await album(b, "OK Computer").getByTestId("delete").click();
    await album(b, "OK Computer").getByTestId("confirm-delete").click();
    await totalIs(a, 3);
    await albumsOf(a, "Muse", 0);
    await listIs(a, []);

    // An album by the filtered artist added elsewhere enters the list.
    await albumsOf(b, "Muse", 0);
    await addAlbum(b, "Hail to the Thief", "Muse", 2003);
    await listIs(a, ["Hail to the Thief"]);
    await totalIs(a, 4);
    await albumsOf(a, "Muse", 1);
    await a.getByTestId("artist-filter").fill("");
    await listIs(a, ["Showbiz", "Absolution", "Hail to the Thief", "Drones"]);
    await screenshot(a, "relations-03-counts");
  });

  test("a reference property takes an entity id or null, and refuses anything else", async () => {
    const got = await a.evaluate(async () => {
      const c = globalThis.ankurahClient;
      const out = {};
      for (const [name, artist] of [["name", "Muse"], ["number", 7], ["object", { id: "x" }]]) {
        const trx = c.begin();
        try {
          trx.create("album", { name: "Bad ref", year: 2000, artist });
          out[name] = "accepted";
        } catch (e) {
          out[name] = { code: e.code, message: e.message };
        }
        trx.rollback();
      }
      const trx = c.begin();
      trx.create("album", { name: "No artist", year: 1900, artist: null });
      const [id] = await trx.commit();
      out.stored = (await c.get("album", id)).values.artist ?? null;
      await c.transaction((t) => t.delete("album", id));
      return out;
    });
    for (const k of ["name", "number", "object"]) assert.equal(got[k].code, "invalid_argument", `${k}: ${JSON.stringify(got[k])}`);
    assert.match(got.name.message, /property "artist": invalid argument: entity id "Muse"/);
    assert.equal(got.stored, null);
  });
});
