// Browser tests of the example app's forms against a real `ankurah serve`
// (two browser contexts, each with its own IndexedDB): the add form is free
// for the next album as soon as Add is pressed, bad input is refused with a
// message and saves nothing, a rename can be cancelled, a delete asks first
// and can be undone for a few seconds,
// and the connection badge tells an offline user that edits are kept.
// Run: node --test e2e/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Server, launchBrowser, missingPrerequisite, screenshot } from "./harness.mjs";

const missing = missingPrerequisite();
if (missing && process.env.CI === "true") {
  throw new Error(`browser tests cannot run under CI=true: ${missing}`);
}

const WAIT = 30_000;

const album = (page, name) => page.locator(`[data-testid=album][data-name="${name}"]`);

async function connectionIs(page, state) {
  await page.locator(`[data-testid=connection][data-state="${state}"]`).waitFor({ timeout: WAIT });
}

/** Waits until the focused element has the test id. */
async function focused(page, testId) {
  await page.waitForFunction((id) => document.activeElement?.getAttribute("data-testid") === id, testId, { timeout: WAIT });
}

/**
 * The albums named name as the page's node has them (not what the DOM
 * shows), with the name of the artist each refers to.
 */
function stored(page, name) {
  return page.evaluate(async (n) => {
    const c = globalThis.ankurahClient;
    const albums = await c.fetch("album", "name = ?", n);
    return Promise.all(albums.map(async (e) => ({ ...e.values, artist: e.values.artist ? (await c.get("artist", e.values.artist)).values.name : null })));
  }, name);
}

async function addAlbum(page, name, artist, year) {
  await page.getByTestId("new-name").fill(name);
  await page.getByTestId("new-artist").fill(artist);
  await page.getByTestId("new-year").fill(String(year));
  await page.getByTestId("add").click();
  await album(page, name).waitFor({ timeout: WAIT });
}

describe("example app forms in Chromium", { skip: missing }, () => {
  let server, browser, a, b;

  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
    a = await (await browser.newContext()).newPage();
    b = await (await browser.newContext()).newPage();
    for (const p of [a, b]) {
      p.on("pageerror", (e) => console.error("page error:", e.message));
      await p.goto(server.url + "/");
      await connectionIs(p, "connected");
    }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the add form takes the next album at once: no keystrokes lost, both albums saved", async () => {
    await a.getByTestId("new-name").fill("First Light");
    await a.getByTestId("new-artist").fill("Early Riser");
    await a.getByTestId("new-year").fill("2011");
    await a.getByTestId("new-year").press("Enter");
    // Focus is back in Name, and the user starts on the next album while
    // the first is still on its way to the server.
    await focused(a, "new-name");
    await a.keyboard.type("La");
    await album(b, "First Light").waitFor({ timeout: WAIT }); // the server has the first album
    await a.keyboard.type("st Two");
    await a.keyboard.press("Tab");
    await a.keyboard.type("Second Act");
    await a.keyboard.press("Tab");
    await a.keyboard.type("2012");
    assert.equal(await a.getByTestId("new-name").inputValue(), "Last Two");
    assert.equal(await a.getByTestId("new-artist").inputValue(), "Second Act");
    assert.equal(await a.getByTestId("new-year").inputValue(), "2012");
    await a.getByTestId("add").click();
    // A click on Add also leaves the cursor in Name for the album after.
    await focused(a, "new-name");
    await a.keyboard.type("Third Time");

    await album(b, "Last Two").waitFor({ timeout: WAIT });
    await album(a, "Last Two").waitFor({ timeout: WAIT });
    assert.equal(await a.getByTestId("new-name").inputValue(), "Third Time", "what is typed after Add stays in the form");
    assert.deepEqual(await stored(b, "First Light"), [{ name: "First Light", artist: "Early Riser", year: 2011 }]);
    assert.deepEqual(await stored(b, "Last Two"), [{ name: "Last Two", artist: "Second Act", year: 2012 }]);
    assert.equal(await b.getByTestId("album").count(), 2);
    await a.getByTestId("new-name").fill("");
  });

  test("a year that is not a number is refused with a message and nothing is saved", async () => {
    const before = await a.getByTestId("album").count();
    await a.getByTestId("new-name").fill("Bad Year");
    await a.getByTestId("new-artist").fill("Typo");
    await a.getByTestId("new-year").fill("nineteen99");
    await a.getByTestId("add").click();
    const message = a.getByTestId("add-error");
    await a.locator('[data-testid=add-error]:has-text("is not a year")').waitFor({ timeout: WAIT });
    assert.equal(await message.textContent(), "“nineteen99” is not a year. Enter a number like 1997.");
    assert.equal(await message.isVisible(), true);
    assert.equal(await a.getByTestId("new-year").getAttribute("aria-invalid"), "true");
    await focused(a, "new-year");
    // The form keeps what was typed, and the node has no such album.
    assert.equal(await a.getByTestId("new-name").inputValue(), "Bad Year");
    assert.equal(await a.getByTestId("new-year").inputValue(), "nineteen99");
    assert.deepEqual(await stored(a, "Bad Year"), []);
    assert.equal(await a.getByTestId("album").count(), before);

    await a.getByTestId("new-year").fill("");
    await a.getByTestId("add").click();
    await a.locator('[data-testid=add-error]:has-text("Enter the year it came out")').waitFor({ timeout: WAIT });
    assert.deepEqual(await stored(a, "Bad Year"), []);

    await a.getByTestId("new-name").fill("  ");
    await a.getByTestId("new-year").fill("1999");
    await a.getByTestId("add").click();
    await a.locator('[data-testid=add-error]:has-text("Give the album a name.")').waitFor({ timeout: WAIT });
    await focused(a, "new-name");
    assert.equal(await a.getByTestId("album").count(), before);

    // Corrected, it saves, and the message goes.
    await a.getByTestId("new-name").fill("Good Year");
    await a.getByTestId("add").click();
    await album(b, "Good Year").waitFor({ timeout: WAIT });
    assert.deepEqual(await stored(b, "Good Year"), [{ name: "Good Year", artist: "Typo", year: 1999 }]);
    assert.equal(await message.textContent(), "");
  });

  test("an empty rename is refused and the name is kept", async () => {
    const row = album(a, "Good Year");
    await row.getByTestId("edit").click();
    await row.getByTestId("edit-name").fill("");
    await row.getByTestId("save").click();
    await row.getByTestId("edit-error").waitFor({ timeout: WAIT });
    assert.match(await row.getByTestId("edit-error").textContent(), /The name can’t be empty/);
    assert.equal(await row.getByTestId("edit-name").getAttribute("aria-invalid"), "true");

    await row.getByTestId("edit-name").fill("   ");
    await row.getByTestId("edit-name").press("Enter");
    await row.getByTestId("edit-error").waitFor({ timeout: WAIT });
    assert.equal(await row.getByTestId("edit-name").isVisible(), true, "still editing");
    assert.deepEqual(await stored(a, "Good Year"), [{ name: "Good Year", artist: "Typo", year: 1999 }]);
    assert.deepEqual(await stored(a, ""), []);
    assert.deepEqual(await stored(a, "   "), []);
    await row.getByTestId("cancel-edit").click();
    await row.getByTestId("edit-name").waitFor({ state: "detached", timeout: WAIT });
  });

  test("Cancel and Escape end a rename without changing the name", async () => {
    const row = album(a, "Good Year");
    for (const how of ["Cancel", "Escape"]) {
      await row.getByTestId("edit").click();
      await row.getByTestId("edit-name").fill(`Renamed by ${how}?`);
      if (how === "Cancel") await row.getByTestId("cancel-edit").click();
      else await row.getByTestId("edit-name").press("Escape");
      await row.getByTestId("edit-name").waitFor({ state: "detached", timeout: WAIT });
      assert.equal(await row.getByTestId("album-name").textContent(), "Good YearTypo", how);
      await focused(a, "edit"); // back on the Rename button
      assert.deepEqual(await stored(a, `Renamed by ${how}?`), [], how);
    }
    assert.deepEqual(await stored(a, "Good Year"), [{ name: "Good Year", artist: "Typo", year: 1999 }]);
    // Renaming still works after cancelling.
    await row.getByTestId("edit").click();
    await row.getByTestId("edit-name").fill("Good Year (remaster)");
    await row.getByTestId("edit-name").press("Enter");
    await album(b, "Good Year (remaster)").waitFor({ timeout: WAIT });
    const renamed = album(a, "Good Year (remaster)");
    await renamed.getByTestId("edit").waitFor({ timeout: WAIT }); // Enter saved and closed the editor
    assert.equal(await renamed.getByTestId("edit-name").count(), 0);
    await focused(a, "edit");
  });

  test("Delete asks first: Keep (or Escape) keeps the album, Delete removes it everywhere", async () => {
    const name = "Good Year (remaster)";
    const row = album(a, name);
    await row.getByTestId("delete").click();
    await row.locator('text="Delete this album?"').waitFor({ timeout: WAIT });
    await focused(a, "cancel-delete"); // the safe choice, where Delete was
    await row.getByTestId("cancel-delete").click();
    await row.getByTestId("confirm-delete").waitFor({ state: "detached", timeout: WAIT });
    await focused(a, "delete");
    assert.equal(await stored(a, name).then((r) => r.length), 1, "kept");

    await row.getByTestId("delete").click();
    await row.getByTestId("confirm-delete").waitFor({ timeout: WAIT });
    await a.keyboard.press("Escape");
    await row.getByTestId("confirm-delete").waitFor({ state: "detached", timeout: WAIT });
    assert.equal(await stored(a, name).then((r) => r.length), 1, "kept after Escape");
    assert.equal(await album(b, name).count(), 1);

    await row.getByTestId("delete").click();
    await row.getByTestId("confirm-delete").click();
    await album(a, name).waitFor({ state: "detached", timeout: WAIT });
    await album(b, name).waitFor({ state: "detached", timeout: WAIT });
    assert.deepEqual(await stored(b, name), []);
  });

  test("after a delete, Undo brings the album back everywhere with its id and values; unused, the offer goes", async () => {
    await addAlbum(a, "Undo Me", "Typo", 2001);
    await album(b, "Undo Me").waitFor({ timeout: WAIT });
    const [before] = await a.evaluate(async () => globalThis.ankurahClient.fetch("album", "name = ?", "Undo Me"));
    const row = album(a, "Undo Me");
    await row.getByTestId("delete").click();
    await row.getByTestId("confirm-delete").click();
    await album(a, "Undo Me").waitFor({ state: "detached", timeout: WAIT });
    await album(b, "Undo Me").waitFor({ state: "detached", timeout: WAIT });
    const toast = a.getByTestId("undo-toast");
    await toast.filter({ hasText: "Deleted Undo Me" }).waitFor({ timeout: WAIT });
    await focused(a, "undo"); // the row whose button had focus is gone
    await screenshot(a, "undo-toast");
    assert.equal(await b.getByTestId("undo-toast").count(), 0, "only the deleting tab offers Undo");

    await a.keyboard.press("Enter");
    await album(a, "Undo Me").waitFor({ timeout: WAIT });
    await album(b, "Undo Me").waitFor({ timeout: WAIT });
    await toast.waitFor({ state: "detached", timeout: WAIT });
    const [after] = await b.evaluate(async () => globalThis.ankurahClient.fetch("album", "name = ?", "Undo Me"));
    assert.equal(after.id, before.id, "the same entity, not a copy");
    assert.deepEqual(await stored(b, "Undo Me"), [{ name: "Undo Me", artist: "Typo", year: 2001 }]);

    // Deleted again and the offer left alone: it goes after a few seconds,
    // and the album stays deleted.
    await row.getByTestId("delete").click();
    await row.getByTestId("confirm-delete").click();
    await toast.waitFor({ timeout: WAIT });
    await a.mouse.move(0, 0);
    await toast.waitFor({ state: "detached", timeout: WAIT });
    assert.deepEqual(await stored(a, "Undo Me"), []);
    await album(b, "Undo Me").waitFor({ state: "detached", timeout: WAIT });
  });

  test("offline, the badge says edits are kept and will sync; an edit made offline syncs on reconnection", async () => {
    const badge = a.getByTestId("connection");
    assert.equal(await badge.textContent(), "Online");
    await server.stop();
    await a.locator('[data-testid=connection]:has-text("Offline")').waitFor({ timeout: WAIT });
    assert.equal(await badge.textContent(), "OfflineYour edits are saved on this device and will sync when the connection is back. Counts are as of the last sync.");
    assert.equal(await badge.getAttribute("role"), "status");

    const row = album(a, "First Light");
    await row.getByTestId("edit").click();
    await row.getByTestId("edit-name").fill("First Light (offline)");
    await row.getByTestId("save").click();
    await album(a, "First Light (offline)").waitFor({ timeout: WAIT });
    await a.getByTestId("new-name").fill("Made Offline");
    await a.getByTestId("new-artist").fill("No Signal");
    await a.getByTestId("new-year").fill("2020");
    await a.getByTestId("add").click();
    await album(a, "Made Offline").waitFor({ timeout: WAIT });
    assert.match(await badge.textContent(), /will sync when the connection is back/);
    await screenshot(a, "offline-badge-1280");
    await a.setViewportSize({ width: 390, height: 844 });
    await screenshot(a, "offline-badge-390");
    await a.setViewportSize({ width: 1280, height: 720 });
    assert.equal(await album(b, "Made Offline").count(), 0, "b cannot see a's offline edits yet");

    await server.start(); // same port, same bolt file
    await connectionIs(a, "connected");
    await a.waitForFunction(() => document.querySelector("[data-testid=connection]").textContent === "Online", null, { timeout: WAIT });
    await album(b, "First Light (offline)").waitFor({ timeout: WAIT });
    await album(b, "Made Offline").waitFor({ timeout: WAIT });
    assert.deepEqual(await stored(b, "Made Offline"), [{ name: "Made Offline", artist: "No Signal", year: 2020 }]);
  });

  test("albums added in a row are all saved", async () => {
    for (const [i, n] of ["Quick 1", "Quick 2", "Quick 3"].entries()) {
      await a.getByTestId("new-name").fill(n);
      await a.getByTestId("new-year").fill(String(2001 + i));
      await a.getByTestId("new-year").press("Enter");
    }
    for (const n of ["Quick 1", "Quick 2", "Quick 3"]) await album(b, n).waitFor({ timeout: WAIT });
    await addAlbum(a, "Quick 4", "", 2004);
  });
});
