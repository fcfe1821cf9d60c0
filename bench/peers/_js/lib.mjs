// Client-process side of bench/peers for the npm peers. The orchestrator
// (bench/peers, Go) starts `node <peer>.mjs MODE CFG-JSON`; a process speaks
// JSON lines: commands on stdin, messages on stdout, logs on stderr. It exits
// when stdin closes (the orchestrator ended it or went away) and after a
// watchdog. Modes, each given by the peer script:
//   server  {port}                  -> {type:'listening', ...cfg for clients}
//   writer  cfg                     -> ready; stdin {op:'warm',k} | {op:'run',writes,spacingMs} -> ran
//   subs    cfg+{count,writes}      -> ready, warm, done; stdin {op:'finish'} -> result
//   load    cfg+{size,batch}        -> loaded {writeMs, confirmedMs}
//   fresh   cfg+{size,limitMs}      -> result {complete, ms, got}
import readline from 'node:readline';

/** Milliseconds on CLOCK_MONOTONIC: the clock every process on the machine shares. */
export const clock = () => Number(process.hrtime.bigint()) / 1e6;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (...a) => console.error(`[${process.argv[2]} ${process.pid}]`, ...a);

/** Print one message line. */
export function emit(m) {
  process.stdout.write(JSON.stringify(m) + '\n');
}

function fatal(e) {
  log('fatal:', e?.stack || e);
  emit({ type: 'error', error: String(e?.message || e).split('\n')[0] });
  process.exit(1);
}

/** Call f for each stdin command; exit at EOF. */
function onCommands(f) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let m;
    try { m = JSON.parse(line); } catch { return; }
    Promise.resolve(f(m)).catch(fatal);
  });
  rl.on('close', () => process.exit(0));
}

/** Rejects after ms with a message naming what timed out. */
export function within(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

/** BQ1 doc: kind is what subscribers match, ph the phase (w warm-up, m measured, x miss), t the write call's clock. */
const bq1Doc = (id, kind, ph, n) => ({ id, kind, ph, n, t: clock(), title: `doc ${id}` });

/** BS1 doc #i (half of them kind 'hit'). */
export const bs1Doc = (i) => ({ id: `d${String(i).padStart(6, '0')}`, kind: i % 2 === 0 ? 'hit' : 'miss', n: i, title: `document number ${i}` });

/** The BS1 docs in batches of `batch`. */
export function* batches(size, batch) {
  for (let i = 0; i < size; i += batch) {
    const docs = [];
    for (let j = i; j < Math.min(size, i + batch); j++) docs.push(bs1Doc(j));
    yield docs;
  }
}

async function writerMode(peer, cfg) {
  const w = await peer.writer(cfg);
  const pending = new Set();
  let errors = 0;
  let firstError;
  const write = (d) => {
    const p = Promise.resolve().then(() => w.write(d)).catch((e) => {
      firstError ??= `write ${d.id}: ${String(e?.message || e).split('\n')[0]}`;
      if (errors++ < 3) log('write error', e?.message || e);
    });
    pending.add(p);
    p.finally(() => pending.delete(p));
  };
  emit({ type: 'ready' });
  onCommands(async (m) => {
    if (m.op === 'warm') write(bq1Doc(`w${String(m.k).padStart(4, '0')}`, 'hit', 'w', m.k));
    if (m.op !== 'run') return;
    const t0 = clock();
    let lag = 0;
    const until = async (due) => { while (clock() < due) await sleep(Math.max(0, Math.min(5, due - clock() - 0.5))); };
    for (let i = 0; i < m.writes; i++) {
      const due = t0 + i * m.spacingMs;
      await until(due);
      lag = Math.max(lag, clock() - due);
      write(bq1Doc(`h${String(i).padStart(4, '0')}`, 'hit', 'm', i));
      await until(due + m.spacingMs / 2);
      write(bq1Doc(`x${String(i).padStart(4, '0')}`, 'miss', 'x', i));
    }
    await within(Promise.all([...pending]), 60000, 'pending writes').catch((e) => log(e.message));
    emit({ type: 'ran', lagMaxMs: lag, errors, firstError });
  });
}

async function subsMode(peer, cfg) {
  const W = cfg.writes;
  const subs = [];
  let ready = false;
  let warmSent = false;
  let doneSent = false;
  const check = () => {
    if (!ready) return;
    if (!warmSent && subs.every((s) => s.warm)) { warmSent = true; emit({ type: 'warm' }); }
    if (!doneSent && subs.every((s) => s.got === W)) { doneSent = true; emit({ type: 'done' }); }
  };
  for (let i = 0; i < cfg.count; i++) {
    const s = { lat: new Array(W).fill(null), got: 0, warm: false, falseN: 0, handle: null };
    const onDocs = (docs) => {
      const now = clock();
      for (const d of docs) {
        if (!d) continue;
        if (d.kind !== 'hit') { s.falseN++; continue; }
        if (d.ph === 'w') s.warm = true;
        else if (d.ph === 'm' && d.n >= 0 && d.n < W && s.lat[d.n] === null) { s.lat[d.n] = now - d.t; s.got++; }
      }
      check();
    };
    subs.push(s);
    s.handle = await within(peer.subscriber(cfg, cfg.base + i, onDocs), 60000, `subscriber ${cfg.base + i}`);
  }
  ready = true;
  emit({ type: 'ready' });
  check();
  onCommands(async (m) => {
    if (m.op !== 'finish') return;
    emit({ type: 'result', lat: subs.map((s) => s.lat), falseNotifies: subs.reduce((a, s) => a + s.falseN, 0) });
    await within(Promise.all(subs.map((s) => s.handle?.close?.())), 5000, 'close').catch(() => {});
    process.exit(0);
  });
}

async function loadMode(peer, cfg) {
  const t0 = clock();
  const r = await peer.load(cfg, t0);
  emit({ type: 'loaded', writeMs: r.writeMs, confirmedMs: r.confirmedMs ?? r.writeMs });
  onCommands(() => {});
}

async function freshMode(peer, cfg) {
  const t0 = clock();
  const c = await peer.fresh(cfg);
  let ok = true;
  let detail;
  try { await within(c.done, Math.max(1, cfg.limitMs - (clock() - t0)), 'fresh sync'); } catch (e) { ok = false; detail = e.message; }
  const ms = clock() - t0;
  let got = null;
  try { got = await c.count(); } catch { /* unknown */ }
  emit({ type: 'result', complete: ok, ms, got, detail });
  await within(Promise.resolve(c.close?.()), 5000, 'close').catch(() => {});
  process.exit(0);
}

/** Run the mode named on the command line with the peer's functions. */
export async function run(peer) {
  process.on('unhandledRejection', (e) => log('unhandled rejection:', e?.stack || e));
  process.on('uncaughtException', fatal);
  setTimeout(() => { log('watchdog'); process.exit(3); }, 600000).unref();
  const [mode, arg] = process.argv.slice(2);
  const cfg = JSON.parse(arg || '{}');
  const modes = { writer: writerMode, subs: subsMode, load: loadMode, fresh: freshMode };
  try {
    if (mode === 'server') {
      if (!peer.server) throw new Error('this peer has no server mode');
      emit({ type: 'listening', ...(await peer.server(cfg)) });
      onCommands(() => {});
    } else if (modes[mode]) {
      await modes[mode](peer, cfg);
    } else {
      throw new Error(`unknown mode ${mode}`);
    }
  } catch (e) {
    fatal(e);
  }
}
