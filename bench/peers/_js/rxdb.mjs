// RxDB 17 (open-source build): memory storage and replication-websocket.
// Server: an RxDatabase exposed with startWebsocketServer on 127.0.0.1. Clients: their own
// RxDatabase replicating the whole collection (the websocket replication has no server-side
// filter); a subscriber's query is find({selector:{kind:'hit'}}).$ on its local copy.
// Bulk: bulkInsert per batch on a client, confirmed by awaitInSync (pushed and acknowledged).
// The open-source build allows 13 collections a process, so the orchestrator's 10 subscribers a
// process fit.
import { createRxDatabase } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { replicateWithWebsocketServer, startWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { batches, clock, log, run, within } from './lib.mjs';

const schema = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 32 }, kind: { type: 'string' }, ph: { type: 'string' },
    n: { type: 'number' }, t: { type: 'number' }, title: { type: 'string' },
  },
  required: ['id'],
};

async function open(name) {
  const db = await createRxDatabase({ name: `${name}-${process.pid}`, storage: getRxStorageMemory(), multiInstance: false });
  await db.addCollections({ docs: { schema } });
  return db;
}

async function client(cfg, name) {
  const db = await open(name);
  const r = await replicateWithWebsocketServer({ collection: db.docs, url: `ws://127.0.0.1:${cfg.port}/socket`, replicationIdentifier: 'bench', live: true });
  r.error$.subscribe((e) => log('replication error', e?.message || e));
  return { db, rep: r, close: async () => { await r.cancel(); await db.close(); } };
}

await run({
  async server(cfg) {
    const db = await open('server');
    await startWebsocketServer({ database: db, host: '127.0.0.1', port: cfg.port, path: '/socket' });
    return {};
  },
  async writer(cfg) {
    const c = await client(cfg, 'writer');
    await within(c.rep.awaitInitialReplication(), 30000, 'initial replication');
    return { write: (d) => c.db.docs.insert(d), close: c.close };
  },
  async subscriber(cfg, i, onDocs) {
    const c = await client(cfg, `sub${i}`);
    await within(c.rep.awaitInitialReplication(), 30000, 'initial replication');
    const s = c.db.docs.find({ selector: { kind: 'hit' } }).$.subscribe((docs) => onDocs(docs));
    return { close: async () => { s.unsubscribe(); await c.close(); } };
  },
  async load(cfg, t0) {
    const c = await client(cfg, 'loader');
    await within(c.rep.awaitInitialReplication(), 30000, 'initial replication');
    for (const docs of batches(cfg.size, cfg.batch)) {
      const r = await c.db.docs.bulkInsert(docs);
      if (r.error.length) throw new Error(`bulkInsert: ${r.error.length} errors`);
    }
    await within(c.rep.awaitInSync(), cfg.limitMs, 'awaitInSync');
    const writeMs = clock() - t0;
    await c.close();
    return { writeMs };
  },
  async fresh(cfg) {
    const c = await client(cfg, 'fresh');
    return {
      done: (async () => {
        await c.rep.awaitInitialReplication();
        const n = await c.db.docs.count().exec();
        if (n !== cfg.size) throw new Error(`initial replication ended with ${n} docs`);
      })(),
      count: () => c.db.docs.count().exec(),
      close: c.close,
    };
  },
});
