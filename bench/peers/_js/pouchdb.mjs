// PouchDB 9 against pouchdb-server 4.2 --in-memory (started by the orchestrator, database 'bench').
// pouchdb-server answers 404 to a server-side selector on _changes, so a subscriber
// live-replicates everything into its memory PouchDB and filters with a local
// changes({selector}). The writer puts over HTTP. Bulk: POST _bulk_docs per batch (answered
// once stored), confirmed by the database's doc_count.
import PouchDB from 'pouchdb';
import memoryAdapter from 'pouchdb-adapter-memory';
import { batches, clock, run } from './lib.mjs';

PouchDB.plugin(memoryAdapter);
const remote = (cfg) => `http://127.0.0.1:${cfg.port}/bench`;
const toDoc = ({ id, ...rest }) => ({ _id: id, ...rest });

await run({
  async writer(cfg) {
    const db = new PouchDB(remote(cfg));
    return { write: (d) => db.put(toDoc(d)) };
  },
  async subscriber(cfg, i, onDocs) {
    const local = new PouchDB(`sub-${process.pid}-${i}`, { adapter: 'memory' });
    const rep = local.replicate.from(new PouchDB(remote(cfg)), { live: true, retry: true });
    await new Promise((resolve, reject) => { rep.once('paused', resolve); rep.once('error', reject); });
    const feed = local.changes({ live: true, since: 'now', include_docs: true, selector: { kind: 'hit' } }).on('change', (c) => onDocs([c.doc]));
    return { close: async () => { feed.cancel(); rep.cancel(); await local.destroy(); } };
  },
  async load(cfg, t0) {
    for (const docs of batches(cfg.size, cfg.batch)) {
      const r = await fetch(`${remote(cfg)}/_bulk_docs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ docs: docs.map(toDoc) }) });
      if (!r.ok) throw new Error(`_bulk_docs: ${r.status}`);
      await r.arrayBuffer();
    }
    const writeMs = clock() - t0;
    const info = await (await fetch(remote(cfg))).json();
    if (info.doc_count !== cfg.size) throw new Error(`the server holds ${info.doc_count} docs, want ${cfg.size}`);
    return { writeMs, confirmedMs: clock() - t0 };
  },
  async fresh(cfg) {
    const local = new PouchDB(`fresh-${process.pid}`, { adapter: 'memory' });
    const rep = local.replicate.from(new PouchDB(remote(cfg)));
    return {
      done: (async () => {
        await rep;
        const info = await local.info();
        if (info.doc_count !== cfg.size) throw new Error(`replication ended with ${info.doc_count} docs`);
      })(),
      count: async () => (await local.info()).doc_count,
      close: async () => { rep.cancel(); await local.destroy(); },
    };
  },
});
