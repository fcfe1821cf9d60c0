// Browser tests of cursor pagination through @ankurah/client against a real
// `ankurah serve`: fetchPage walks a collection page by page, stable under
// an insert and a delete between pages (each page is the first LIMIT rows
// after the cursor in a full ordered fetch made at that moment), bad cursors
// are refused with code "cursor", and a live page (queryPage) takes a row
// that another browser context creates inside its window while one created
// behind its cursor stays out, and moves to the next and previous pages.
// Run: node --test e2e/
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Server, launchBrowser, missingPrerequisite } from "./harness.mjs";

const missing = missingPrerequisite();
if (missing && process.env.CI === "true") {
  throw new Error(`browser tests cannot run under CI=true: ${missing}`);
}

const WAIT = 30_000;
const Q = "year > 0 ORDER BY year LIMIT 3";

/** Creates albums {name, year} from page p's client. */
function create(p, albums) {
  return p.evaluate(
    (list) => globalThis.ankurahClient.transaction((t) => list.forEach((a) => t.create("album", a))),
    albums,
  );
}

describe("cursor pagination in Chromium", { skip: missing }, () => {
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
    // Distinct years, so the order (ties by entity id) is the year order.
    await create(a, [10, 20, 30, 40, 50, 60, 70, 80].map((y) => ({ name: `A${y}`, year: y })));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("fetchPage walks every row once, stable under an insert and a delete between pages", async () => {
    const got = await a.evaluate(async (q) => {
      const c = globalThis.ankurahClient;
      const years = (es) => es.map((e) => e.values.year);
      const out = { pages: [], want: [] };
      let after = null;
      let last = 0;
      for (let i = 0; i < 10; i++) {
        const full = years(await c.fetch("album", "year > 0 ORDER BY year"));
        out.want.push(full.filter((y) => y > last).slice(0, 3));
        const page = await c.fetchPage("album", q, after);
        out.pages.push(years(page.items));
        if (page.items.length < 3) break;
        after = page.next;
        last = page.items[page.items.length - 1].values.year;
        if (i === 0) {
          // Behind the cursor (never seen) and ahead of it (seen on the next page).
          await c.transaction((t) => {
            t.create("album", { name: "A5", year: 5 });
            t.create("album", { name: "A45", year: 45 });
          });
          // The next row ahead goes away.
          const [next] = await c.fetch("album", "year = ?", 40);
          await c.transaction((t) => t.delete("album", next.id));
        }
      }
      return out;
    }, Q);
    assert.deepEqual(got.pages, got.want);
    assert.deepEqual(got.pages.flat(), [10, 20, 30, 45, 50, 60, 70, 80]);
  });

  test("bad cursors are refused, naming the cursor", async () => {
    const got = await a.evaluate(async (q) => {
      const c = globalThis.ankurahClient;
      const out = {};
      for (const [name, after] of [["garbage", "not a cursor!"], ["number", 7]]) {
        try {
          await c.fetchPage("album", q, after);
          out[name] = "accepted";
        } catch (e) {
          out[name] = { code: e.code, message: e.message };
        }
      }
      try {
        await c.queryPage("album", q, "AAAA");
        out.live = "accepted";
      } catch (e) {
        out.live = { code: e.code, message: e.message };
      }
      return out;
    }, Q);
    assert.equal(got.garbage.code, "cursor", JSON.stringify(got.garbage));
    assert.match(got.garbage.message, /after cursor "not a cursor!": query: invalid cursor/);
    assert.equal(got.number.code, "invalid_argument", JSON.stringify(got.number));
    assert.match(got.number.message, /after must be a cursor string/);
    assert.equal(got.live.code, "cursor", JSON.stringify(got.live));
  });

  test("a live page takes a row another context creates in its window, and moves between pages", async () => {
    // Rows now: 5 10 20 30 45 50 60 70 80. The page after 20 is 30 45 50.
    const first = await a.evaluate(async (q) => {
      const c = globalThis.ankurahClient;
      const [at20] = await c.fetch("album", "year = ?", 20);
      const cursor = await c.cursorAt("album", q, at20.id);
      const lp = await c.queryPage("album", q, cursor);
      globalThis.testPage = lp;
      return { years: lp.items.map((e) => e.values.year), after: lp.after === cursor };
    }, Q);
    assert.deepEqual(first, { years: [30, 45, 50], after: true });

    // Behind the cursor (stays out), then inside the window (enters, pushing 50 out).
    await create(b, [{ name: "A15", year: 15 }]);
    await create(b, [{ name: "A35", year: 35 }]);
    const want = [30, 35, 45];
    try {
      await a.waitForFunction((w) => JSON.stringify(globalThis.testPage.items.map((e) => e.values.year)) === JSON.stringify(w), want, { timeout: WAIT });
    } catch (e) {
      throw new Error(`the live page holds ${await a.evaluate(() => JSON.stringify(globalThis.testPage.items.map((e) => e.values.year)))}, want ${JSON.stringify(want)}: ${e.message}`);
    }

    const moves = await a.evaluate(async (q) => {
      const c = globalThis.ankurahClient;
      const lp = globalThis.testPage;
      const years = () => lp.items.map((e) => e.values.year);
      const out = {};
      const next = lp.next;
      out.fetched = (await c.fetchPage("album", q, next)).items.map((e) => e.values.year);
      await lp.nextPage();
      out.next = years();
      out.index = lp.index;
      await lp.prevPage();
      out.prev = years();
      await lp.first();
      out.first = years();
      out.hasPrev = lp.hasPrev;
      lp.close();
      return out;
    }, Q);
    assert.deepEqual(moves, { fetched: [50, 60, 70], next: [50, 60, 70], index: 1, prev: [30, 35, 45], first: [5, 10, 15], hasPrev: false });
  });
});
