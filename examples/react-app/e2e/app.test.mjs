// Browser tests of the example app against a real `ankurah serve`: two
// browser contexts (separate IndexedDB) stay in sync, data survives a
// reload, edits made while the server is down apply locally and reach
// the other context once it is back, and concurrent edits of an album's
// notes (a collaborative text property) merge. Run: node --test e2e/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Server, launchBrowser, missingPrerequisite, screenshot } from "./harness.mjs";

const missing = missingPrerequisite();
if (missing && process.env.CI === "true") {
  throw new Error(`browser tests cannot run under CI=true: ${missing}`);
}

const WAIT = 30_000;

const album = (page, name) => page.locator(`[data-testid=album][data-name="${name}"]`);

async function addAlbum(page, name, artist, year) {
  await page.getByTestId("new-name").fill(name);
  await page.getByTestId("new-artist").fill(artist);
  await page.getByTestId("new-year").fill(String(year));
  await page.getByTestId("add").click();
  await album(page, name).waitFor({ timeout: WAIT });
}

async function rename(page, from, to) {
  const row = album(page, from);
  await row.getByTestId("edit").click();
  await row.getByTestId("edit-name").fill(to);
  await row.getByTestId("save").click();
  await album(page, to).waitFor({ timeout: WAIT });
}

const notes = (page, name) => album(page, name).getByTestId("notes");

/** Waits until the album's live notes value and its textarea both equal text. */
async function notesAre(page, name, text) {
  await page.locator(`[data-testid=album][data-name="${name}"][data-notes="${text}"]`).waitFor({ timeout: WAIT });
  await page.waitForFunction(
    ([n, t]) => document.querySelector(`[data-testid=album][data-name="${n}"] [data-testid=notes]`)?.value === t,
    [name, text],
    { timeout: WAIT },
  );
}

async function connectionIs(page, state) {
  await page.locator(`[data-testid=connection][data-state="${state}"]`).waitFor({ timeout: WAIT });
}

describe("example app in Chromium", { skip: missing }, () => {
  let server, browser, a, b;

  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
    a = await (await browser.newContext()).newPage();
    b = await (await browser.newContext()).newPage();
    for (const p of [a, b]) {
      p.on("pageerror", (e) => console.error("page error:", e.message));
      if (process.env.E2E_CONSOLE) p.on("console", (m) => console.error(`[${p === a ? "a" : "b"}] ${m.text()}`));
      await p.goto(server.url + "/");
      await connectionIs(p, "connected");
    }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("a creation in one context appears in the other", async () => {
    await addAlbum(a, "Origin of Symmetry", "Muse", 2001);
    await album(b, "Origin of Symmetry").waitFor({ timeout: WAIT });
    await screenshot(b, "01-created-in-a-seen-in-b");
  });

  test("an edit in one context appears in the other", async () => {
    await rename(b, "Origin of Symmetry", "Origin of Symmetry (XX)");
    await album(a, "Origin of Symmetry (XX)").waitFor({ timeout: WAIT });
    await screenshot(a, "02-edited-in-b-seen-in-a");
  });

  test("notes typed in one context appear in the other", async () => {
    const name = "Origin of Symmetry (XX)";
    await notes(a, name).fill("Great album");
    await notesAre(b, name, "Great album");
    await notesAre(a, name, "Great album");
  });

  test("notes edited in both contexts while the server is down merge", async () => {
    const name = "Origin of Symmetry (XX)";
    await server.stop();
    await connectionIs(a, "disconnected").catch(() => connectionIs(a, "connecting"));
    await connectionIs(b, "disconnected").catch(() => connectionIs(b, "connecting"));
    await notes(a, name).click();
    await a.keyboard.press("End");
    await a.keyboard.type(" from A");
    await notes(b, name).click();
    await b.keyboard.press("Home");
    await b.keyboard.type("B: ");
    await notesAre(a, name, "Great album from A");
    await notesAre(b, name, "B: Great album");

    await server.start();
    await connectionIs(a, "connected");
    await connectionIs(b, "connected");
    await notesAre(a, name, "B: Great album from A");
    await notesAre(b, name, "B: Great album from A");
    await screenshot(b, "03-concurrent-notes-merged");
  });

  test("notes typed in both contexts at the same time merge", async () => {
    const name = "Origin of Symmetry (XX)";
    await notes(a, name).click();
    await a.keyboard.press("End");
    await notes(b, name).click();
    await b.keyboard.press("Home");
    await Promise.all([a.keyboard.type(" and more"), b.keyboard.type("Note ")]);
    await notesAre(a, name, "Note B: Great album from A and more");
    await notesAre(b, name, "Note B: Great album from A and more");
  });

  test("the live filter narrows the list", async () => {
    await addAlbum(a, "Showbiz", "Muse", 1999);
    await a.getByTestId("min-year").fill("2000");
    await album(a, "Showbiz").waitFor({ state: "detached", timeout: WAIT });
    await album(a, "Origin of Symmetry (XX)").waitFor({ timeout: WAIT });
    await a.getByTestId("min-year").fill("0");
    await album(a, "Showbiz").waitFor({ timeout: WAIT });
  });

  test("Go errors reach JavaScript as Errors with the Go message and a code", async () => {
    const got = await a.evaluate(async () => {
      const c = globalThis.ankurahClient;
      const out = {};
      for (const [name, f] of [
        ["syntax", () => c.fetch("album", "year >")],
        ["bind", () => c.fetch("album", "year > ?")],
        ["not_found", () => c.get("album", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
        ["invalid_argument", () => c.get("album", "not an id")],
      ]) {
        try {
          await f();
          out[name] = "resolved";
        } catch (e) {
          out[name] = { isError: e instanceof Error, name: e.name, code: e.code, message: e.message };
        }
      }
      return out;
    });
    for (const code of ["syntax", "bind", "not_found", "invalid_argument"]) {
      assert.equal(got[code].isError, true, `${code}: ${JSON.stringify(got[code])}`);
      assert.equal(got[code].name, "AnkurahError");
      assert.equal(got[code].code, code, JSON.stringify(got[code]));
    }
    assert.match(got.syntax.message, /query: syntax error/);
    assert.match(got.bind.message, /1 placeholders but 0 arguments/);
  });

  test("Mut.text edits a text property by code point and reports bad positions", async () => {
    const got = await a.evaluate(async () => {
      const c = globalThis.ankurahClient;
      const err = (f) => {
        try {
          f();
          return "no error";
        } catch (e) {
          return { isError: e instanceof Error, name: e.name, code: e.code, message: e.message };
        }
      };
      const trx = c.begin();
      const m = trx.create("album", { name: "Text API", year: 1 });
      const t = m.text("notes");
      t.insert(0, "a😀b");
      const out = { length: t.length };
      t.insert(2, "X"); // after the emoji: position 2 counts code points, not UTF-16 units
      out.afterInsert = t.value();
      t.delete(1, 1);
      t.splice(0, 1, "Z");
      t.replace("ZXb and more");
      out.final = t.value();
      out.values = m.values().notes;
      out.outOfRange = err(() => t.insert(99, "!"));
      out.notANumber = err(() => t.delete("1", 1));
      const [id] = await trx.commit();
      out.stored = (await c.get("album", id)).values.notes;
      out.afterCommit = err(() => t.replace("late"));
      await c.transaction((trx) => trx.delete("album", id));
      return out;
    });
    assert.equal(got.length, 3);
    assert.equal(got.afterInsert, "a😀Xb");
    assert.equal(got.final, "ZXb and more");
    assert.equal(got.values, "ZXb and more");
    assert.equal(got.stored, "ZXb and more");
    for (const k of ["outOfRange", "notANumber", "afterCommit"]) {
      assert.equal(got[k].isError, true, `${k}: ${JSON.stringify(got[k])}`);
      assert.equal(got[k].name, "AnkurahError");
      assert.equal(got[k].code, "invalid_argument", `${k}: ${JSON.stringify(got[k])}`);
    }
    assert.match(got.outOfRange.message, /position out of range: insert at 99 in "notes" of length 12/);
    assert.match(got.notANumber.message, /position must be a number/);
  });

  test("a reload keeps the data", async () => {
    await a.reload();
    await album(a, "Origin of Symmetry (XX)").waitFor({ timeout: WAIT });
    await album(a, "Showbiz").waitFor({ timeout: WAIT });
  });

  test("offline edits apply locally and sync when the server returns", async () => {
    await server.stop();
    await connectionIs(a, "disconnected").catch(() => connectionIs(a, "connecting"));
    await addAlbum(a, "Absolution", "Muse", 2003);
    await rename(a, "Showbiz", "Showbiz (offline edit)");
    await screenshot(a, "04-offline-edits-in-a");
    assert.equal(await album(b, "Absolution").count(), 0, "b cannot see a's offline creation yet");

    await server.start(); // same port, same bolt file
    await connectionIs(a, "connected");
    await connectionIs(b, "connected");
    await album(b, "Absolution").waitFor({ timeout: WAIT });
    await album(b, "Showbiz (offline edit)").waitFor({ timeout: WAIT });
    await screenshot(b, "05-offline-edits-reached-b");
  });

  test("a deletion in one context removes the row in the other", async () => {
    await album(b, "Absolution").getByTestId("delete").click();
    await album(b, "Absolution").getByTestId("confirm-delete").click();
    await album(b, "Absolution").waitFor({ state: "detached", timeout: WAIT });
    await album(a, "Absolution").waitFor({ state: "detached", timeout: WAIT });
    await screenshot(a, "06-deleted-in-b-gone-in-a");
  });
});
