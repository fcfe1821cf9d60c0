// Yjs + y-websocket: one Y.Doc (room 'bench') holding a Y.Map 'docs' of id -> JSON object.
// Server: y-websocket's bin/server.js (started by the orchestrator). Yjs has no queries: a
// subscriber observes the map and keeps the changed entries whose kind is 'hit', so every
// subscriber receives every write. Bulk: one transaction per batch; confirmed when a second
// connection holds every entry (y-websocket has no acknowledgement).
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { batches, clock, run, within } from './lib.mjs';

function connect(cfg) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`ws://127.0.0.1:${cfg.port}`, 'bench', doc, { WebSocketPolyfill: WebSocket, disableBc: true });
  const synced = new Promise((resolve) => { if (provider.synced) resolve(); else provider.once('synced', resolve); });
  return { doc, map: doc.getMap('docs'), synced, close: () => { provider.destroy(); doc.destroy(); } };
}

/** Resolves once c's map holds n entries. */
const holds = (c, n) => new Promise((resolve) => {
  const check = () => { if (c.map.size >= n) { c.map.unobserve(check); resolve(); } };
  c.map.observe(check);
  c.synced.then(check);
});

await run({
  async writer(cfg) {
    const c = connect(cfg);
    await within(c.synced, 30000, 'sync');
    return { write: (d) => { c.map.set(d.id, d); }, close: c.close };
  },
  async subscriber(cfg, i, onDocs) {
    const c = connect(cfg);
    await within(c.synced, 30000, 'sync');
    c.map.observe((ev) => {
      const hits = [];
      for (const k of ev.keysChanged) { const v = c.map.get(k); if (v && v.kind === 'hit') hits.push(v); }
      if (hits.length) onDocs(hits);
    });
    return { close: c.close };
  },
  async load(cfg, t0) {
    const w = connect(cfg);
    const check = connect(cfg);
    await within(Promise.all([w.synced, check.synced]), 30000, 'sync');
    const all = holds(check, cfg.size);
    for (const docs of batches(cfg.size, cfg.batch)) w.doc.transact(() => { for (const d of docs) w.map.set(d.id, d); });
    await within(all, cfg.limitMs, 'second connection holding every entry');
    const ms = clock() - t0;
    w.close(); check.close();
    return { writeMs: ms, confirmedMs: ms };
  },
  async fresh(cfg) {
    const c = connect(cfg);
    return { done: holds(c, cfg.size), count: () => c.map.size, close: c.close };
  },
});
