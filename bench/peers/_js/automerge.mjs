// automerge-repo 2.5 (@automerge/automerge 3.5): one document whose 'docs' map holds every doc.
// Server: a Repo with NodeWSServerAdapter on 127.0.0.1 that creates the document; clients
// find() it by URL. A subscriber listens to the handle's 'change' and keeps the changed entries
// whose kind is 'hit' (every subscriber receives every write). Outgoing sync is throttled per
// document by the library's syncDebounceRate (100 ms), left at its default. Bulk: one change
// per batch, confirmed when a second Repo holds every entry (there is no acknowledgement).
import { Repo } from '@automerge/automerge-repo';
import { NodeWSServerAdapter, WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';
import { WebSocketServer } from 'ws';
import { batches, clock, run, within } from './lib.mjs';

const repo = (cfg, name) => new Repo({
  network: [new WebSocketClientAdapter(`ws://127.0.0.1:${cfg.port}`)],
  peerId: `${name}-${process.pid}`,
  sharePolicy: async () => true,
});

/** Resolves once the handle's doc holds n entries. */
const holds = (h, n) => new Promise((resolve) => {
  const count = (doc) => Object.keys(doc?.docs || {}).length;
  if (count(h.doc()) >= n) { resolve(); return; }
  const on = ({ doc }) => { if (count(doc) >= n) { h.off('change', on); resolve(); } };
  h.on('change', on);
});

await run({
  async server(cfg) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: cfg.port });
    await new Promise((r) => wss.once('listening', r));
    const r = new Repo({ network: [new NodeWSServerAdapter(wss)], peerId: 'server', sharePolicy: async () => false });
    const h = r.create({ docs: {} });
    await h.whenReady();
    return { url: h.url };
  },
  async writer(cfg) {
    const r = repo(cfg, 'writer');
    const h = await within(r.find(cfg.url), 30000, 'find');
    return { write: (d) => h.change((doc) => { doc.docs[d.id] = d; }), close: () => r.shutdown() };
  },
  async subscriber(cfg, i, onDocs) {
    const r = repo(cfg, `sub${i}`);
    const h = await within(r.find(cfg.url), 30000, 'find');
    h.on('change', ({ doc, patches }) => {
      const ids = new Set();
      for (const p of patches) if (p.path[0] === 'docs' && p.path.length >= 2) ids.add(p.path[1]);
      const hits = [];
      for (const id of ids) { const v = doc.docs[id]; if (v && v.kind === 'hit') hits.push(v); }
      if (hits.length) onDocs(hits);
    });
    return { close: () => r.shutdown() };
  },
  async load(cfg, t0) {
    const w = repo(cfg, 'loader');
    const c = repo(cfg, 'checker');
    const h = await within(w.find(cfg.url), 30000, 'find');
    const ch = await within(c.find(cfg.url), 30000, 'find');
    const all = holds(ch, cfg.size);
    for (const docs of batches(cfg.size, cfg.batch)) h.change((doc) => { for (const d of docs) doc.docs[d.id] = d; });
    await within(all, cfg.limitMs, 'second Repo holding every entry');
    const ms = clock() - t0;
    await w.shutdown(); await c.shutdown();
    return { writeMs: ms, confirmedMs: ms };
  },
  async fresh(cfg) {
    const r = repo(cfg, 'fresh');
    let h = null;
    const done = (async () => { h = await r.find(cfg.url); await holds(h, cfg.size); })();
    return { done, count: () => Object.keys(h?.doc()?.docs || {}).length, close: () => r.shutdown() };
  },
});
