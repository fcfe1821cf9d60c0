// Triplit: @triplit/server 1.1 (memory storage) + @triplit/client 1.0 (memory storage).
// createServer() from @triplit/server binds every interface, so the server mode builds the same
// Hono app (createTriplitHonoServer + @hono/node-ws) and serves it on 127.0.0.1 itself.
// Subscribers: client.subscribe(query('docs').Where('kind','=','hit')), filtered on the server.
// Bulk: HttpClient.bulkInsert per batch (answered once stored), confirmed by an HTTP fetch.
// Needs a global WebSocket: run with node --experimental-websocket (the orchestrator does).
import crypto from 'node:crypto';
import { batches, clock, run, within } from './lib.mjs';

const SECRET = 'peerbench-secret-peerbench-secret-0123';
const PROJECT = 'bench';

/** An HS256 service token, made with node:crypto. */
function token() {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ 'x-triplit-token-type': 'secret', 'x-triplit-project-id': PROJECT })}`;
  return `${body}.${crypto.createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

async function client(cfg) {
  const { TriplitClient } = await import('@triplit/client');
  return new TriplitClient({ serverUrl: `http://127.0.0.1:${cfg.port}`, token: token(), storage: 'memory', autoConnect: true, logLevel: 'error' });
}

async function http(cfg) {
  const { HttpClient } = await import('@triplit/client');
  return new HttpClient({ serverUrl: `http://127.0.0.1:${cfg.port}`, token: token() });
}

await run({
  async server(cfg) {
    const { createTriplitStorageProvider } = await import('@triplit/server');
    const { createTriplitHonoServer } = await import('@triplit/server/hono');
    const { createNodeWebSocket } = await import('@hono/node-ws');
    const { Hono } = await import('hono');
    const { serve } = await import('@hono/node-server');
    let app = new Hono();
    const { injectWebSocket, upgradeWebSocket } = createNodeWebSocket({ app });
    app = await createTriplitHonoServer(
      { jwtSecret: SECRET, projectId: PROJECT, storage: await createTriplitStorageProvider('memory') },
      upgradeWebSocket, (e) => console.error(e), app,
    );
    await new Promise((resolve) => { injectWebSocket(serve({ fetch: app.fetch, port: cfg.port, hostname: '127.0.0.1' }, resolve)); });
    return {};
  },
  async writer(cfg) {
    const c = await client(cfg);
    return { write: (d) => c.insert('docs', d), close: () => c.disconnect?.() };
  },
  async subscriber(cfg, i, onDocs) {
    const c = await client(cfg);
    let unsubscribe;
    await new Promise((resolve, reject) => {
      unsubscribe = c.subscribe(c.query('docs').Where('kind', '=', 'hit'), (rs) => onDocs(rs), reject, { onRemoteFulfilled: resolve });
    });
    return { close: async () => { unsubscribe(); await c.disconnect?.(); } };
  },
  async load(cfg, t0) {
    const h = await http(cfg);
    for (const docs of batches(cfg.size, cfg.batch)) await h.bulkInsert({ docs });
    const writeMs = clock() - t0;
    const all = await within(h.fetch(h.query('docs')), cfg.limitMs, 'check fetch');
    if (all.length !== cfg.size) throw new Error(`the server holds ${all.length} docs, want ${cfg.size}`);
    return { writeMs, confirmedMs: clock() - t0 };
  },
  async fresh(cfg) {
    const c = await client(cfg);
    let have = 0;
    let unsubscribe;
    const done = new Promise((resolve, reject) => {
      unsubscribe = c.subscribe(c.query('docs'), (rs) => { have = rs.length; if (have === cfg.size) resolve(); }, reject);
    });
    return { done, count: () => have, close: async () => { unsubscribe(); await c.disconnect?.(); } };
  },
});
