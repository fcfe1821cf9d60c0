// The Ankurah inspector: what a server holds and who is connected, live.
// Collections, peers and live queries come from the server's admin API
// (/inspect/api/stream, one snapshot a second); entities are browsed through
// @ankurah/client — a WebAssembly node connected to the same server with
// the admin's token — so their values update as commits land; an entity's
// event history comes from /inspect/api/entity.
import { load, type Client, type ConnectionState, type Entity, type LiveQuery, type Value } from "@ankurah/client";
import "./style.css";

interface LiveQueryInfo {
  id: string;
  sub?: number;
  collection: string;
  selection: string;
  effective: string;
  items: number;
  subscribers: number;
  pending: number;
}

interface PeerInfo {
  node_id: string;
  durable: boolean;
  upstream: boolean;
  connected_since: string;
  queue_frames: number;
  queue_bytes: number;
  credentials_expire?: string;
  paused: boolean;
  subject?: string;
  roles?: string[];
  subscriptions: LiveQueryInfo[];
}

interface Snapshot {
  node: {
    node_id: string;
    role: string;
    system_id?: string;
    time: string;
    queued_bytes: number;
    peers: PeerInfo[];
    live_queries: LiveQueryInfo[];
  };
  collections: { name: string; entities: number; deleted: number }[];
  counts_error?: string;
  counted_at: string;
  admin?: string;
  policy: boolean;
}

interface HistoryEvent {
  id: string;
  parents: string[];
  genesis: boolean;
  created?: string;
  /** The server's record of the commit: who (as its policy names the caller), through which peer, when received. */
  attributed: boolean;
  author?: string;
  peer?: string;
  received?: string;
  set?: Record<string, Value>;
  other?: Record<string, number>;
}

interface History {
  id: string;
  collection: string;
  head: string[];
  deleted: boolean;
  values: Record<string, Value>;
  events: HistoryEvent[];
  total: number;
  truncated?: boolean;
}

/** How many entities of a collection the browser follows at once. */
const pageSize = 100;
const tokenKey = "ankurah-inspector-token";

/**
 * The admin's token: from /inspect/#token=… (then kept for the tab and taken
 * out of the address, so it stays out of the history), else the tab's.
 */
function initialToken(): string {
  const t = new URLSearchParams(location.hash.slice(1)).get("token");
  if (t) {
    sessionStorage.setItem(tokenKey, t);
    history.replaceState(null, "", location.pathname + location.search);
    return t;
  }
  return sessionStorage.getItem(tokenKey) ?? "";
}

const state = {
  token: initialToken(),
  snapshot: undefined as Snapshot | undefined,
  live: "connecting" as "connecting" | "live" | "reconnecting",
  client: undefined as Client | undefined,
  clientError: "",
  conn: "offline" as ConnectionState,
  collection: "",
  lq: undefined as LiveQuery | undefined,
  lqError: "",
  entities: [] as Entity[],
  entity: "",
  history: undefined as History | undefined,
  historyError: "",
};

// ---- DOM helpers (text only: nothing from the server is parsed as HTML)

type Child = Node | string | number | null | undefined | false;

function h(tag: string, attrs: Record<string, string | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Replaces el's children, skipping the empty ones. */
function fill(el: HTMLElement, ...children: Child[]) {
  el.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
}

function short(id: string): string {
  return id.length > 12 ? id.slice(0, 10) + "…" : id;
}

function ago(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function clock(iso: string): string {
  return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function show(v: Value): string {
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  return JSON.stringify(v);
}

function authHeaders(): HeadersInit {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

// ---- rendering

const root = document.getElementById("app")!;
const ui = {
  header: h("header", { class: "top" }),
  login: h("section", { class: "login", hidden: "" }),
  main: h("main", { class: "grid" }),
  collections: h("section", { class: "card collections", "data-testid": "collections" }),
  entities: h("section", { class: "card entities", "data-testid": "entities" }),
  detail: h("section", { class: "card detail", "data-testid": "entity" }),
  peers: h("section", { class: "card peers", "data-testid": "peers" }),
  queries: h("section", { class: "card queries", "data-testid": "live-queries" }),
};
ui.main.append(ui.collections, ui.entities, ui.detail, ui.peers, ui.queries);
root.append(ui.header, ui.login, ui.main);

function renderHeader() {
  const s = state.snapshot;
  const liveText = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" }[state.live];
  fill(ui.header, 
    h("div", { class: "brand" }, h("span", { class: "logo" }), "Ankurah inspector"),
    h(
      "div",
      { class: "facts" },
      s && h("span", { class: "fact" }, h("b", {}, s.node.role), " node ", h("code", { title: s.node.node_id }, short(s.node.node_id))),
      s?.node.system_id && h("span", { class: "fact" }, "system ", h("code", { title: s.node.system_id }, short(s.node.system_id))),
      s && h("span", { class: "fact" }, s.policy ? `admin ${s.admin ?? ""}` : "no policy: open to every caller"),
    ),
    s &&
      h(
        "div",
        { class: "status" },
        h("span", { class: `badge ${state.conn === "connected" ? "ok" : "warn"}`, "data-testid": "client-state", title: "the inspector's own WebAssembly node" }, `client ${state.conn}`),
        h("span", { class: `badge ${state.live === "live" ? "ok" : "warn"}`, "data-testid": "live-state" }, liveText),
      ),
  );
}

function renderLogin(message: string) {
  ui.main.hidden = true;
  ui.login.hidden = false;
  const input = h("input", { type: "password", placeholder: "token (JWT)", "aria-label": "admin token", "data-testid": "token-input", autocomplete: "off" }) as HTMLInputElement;
  const submit = (e: Event) => {
    e.preventDefault();
    state.token = input.value.trim();
    sessionStorage.setItem(tokenKey, state.token);
    void start();
  };
  fill(ui.login, 
    h(
      "form",
      { class: "card login-card", onsubmit: submit },
      h("h2", {}, "Sign in as an admin"),
      h("p", { class: "error", "data-testid": "login-error" }, message),
      h("p", { class: "hint" }, "This server runs with a policy: the inspector needs a token with the admin role, for example ", h("code", {}, "ankurah token --policy rules.yaml --role admin ops"), "."),
      h("div", { class: "row" }, input, h("button", { type: "submit" }, "Sign in")),
    ),
  );
  input.focus();
}

/** The server's own collections (system id, attribution record): counted, not browsable. */
function reserved(name: string): boolean {
  return name === "_ankurah" || name.startsWith("_ankurah_");
}

/** Who committed an event and when the server received it, or that the server has no record of it. */
function attribution(ev: HistoryEvent) {
  if (!ev.attributed || !ev.received) return h("div", { class: "muted small by", "data-testid": "author", "data-author": "" }, "author unknown");
  return h(
    "div",
    { class: "small by", "data-testid": "author", "data-author": ev.author ?? "" },
    "by ",
    ev.author ? h("b", {}, ev.author) : h("span", { class: "muted" }, "an unnamed caller"),
    ev.peer ? h("span", { class: "muted" }, " via ", h("code", { title: ev.peer }, short(ev.peer))) : h("span", { class: "muted" }, " on the server"),
    h("span", { class: "muted" }, " · received "),
    h("time", { datetime: ev.received }, clock(ev.received)),
  );
}

function renderCollections() {
  const s = state.snapshot;
  const rows = (s?.collections ?? []).map((c) =>
    h(
      "tr",
      reserved(c.name)
        ? { class: "reserved", title: "the server's own records: not browsable", "data-collection": c.name, "data-count": String(c.entities) }
        : { class: c.name === state.collection ? "selected" : "", onclick: () => void selectCollection(c.name), "data-collection": c.name, "data-count": String(c.entities) },
      h("td", {}, reserved(c.name) ? h("span", { class: "muted" }, c.name) : h("button", { class: "link" }, c.name)),
      h("td", { class: "num" }, c.entities),
      h("td", { class: "num muted" }, c.deleted || ""),
    ),
  );
  fill(ui.collections, 
    h("h2", {}, "Collections"),
    s?.counts_error ? h("p", { class: "error" }, s.counts_error) : null,
    rows.length
      ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", { class: "num" }, "entities"), h("th", { class: "num" }, "deleted"))), h("tbody", {}, ...rows))
      : h("p", { class: "empty" }, "No collections yet."),
    s && h("p", { class: "foot" }, `counted ${ago(s.counted_at, new Date(s.node.time))} ago`),
  );
}

function renderEntities() {
  if (!state.collection) {
    fill(ui.entities, h("h2", {}, "Entities"), h("p", { class: "empty" }, "Pick a collection."));
    return;
  }
  const count = state.snapshot?.collections.find((c) => c.name === state.collection)?.entities;
  const items = state.entities.map((e) =>
    h(
      "li",
      { class: e.id === state.entity ? "selected" : "", onclick: () => void selectEntity(e.id), "data-entity": e.id },
      h("code", { class: "id", title: e.id }, short(e.id)),
      h(
        "span",
        { class: "preview" },
        ...Object.entries(e.values)
          .slice(0, 4)
          .map(([k, v]) => h("span", { class: "kv" }, h("span", { class: "k" }, k), " ", show(v))),
      ),
    ),
  );
  fill(ui.entities, 
    h("h2", {}, "Entities in ", h("code", {}, state.collection)),
    state.lqError ? h("p", { class: "error" }, state.lqError) : null,
    state.clientError ? h("p", { class: "error" }, state.clientError) : null,
    items.length ? h("ul", { class: "list", "data-count": String(items.length) }, ...items) : !state.lqError && h("p", { class: "empty" }, state.lq ? "No entities." : "Loading…"),
    count !== undefined && count > pageSize && h("p", { class: "foot" }, `the first ${pageSize} of ${count}, by id`),
  );
}

function renderDetail() {
  const hst = state.history;
  if (!state.entity) {
    fill(ui.detail, h("h2", {}, "Entity"), h("p", { class: "empty" }, "Pick an entity to see its values and history."));
    return;
  }
  if (state.historyError) {
    fill(ui.detail, h("h2", {}, "Entity"), h("p", { class: "error" }, state.historyError));
    return;
  }
  if (!hst) {
    fill(ui.detail, h("h2", {}, "Entity"), h("p", { class: "empty" }, "Loading…"));
    return;
  }
  const heads = new Set(hst.head);
  const values = Object.entries(hst.values).sort(([a], [b]) => (a < b ? -1 : 1));
  fill(ui.detail, 
    h("h2", {}, "Entity ", h("code", { title: hst.id }, short(hst.id)), hst.deleted ? h("span", { class: "badge warn" }, "deleted") : null),
    h("p", { class: "mono small" }, hst.id),
    h(
      "table",
      { class: "values", "data-testid": "values" },
      h("tbody", {}, ...values.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", { class: "mono" }, show(v))))),
    ),
    h("h3", {}, `History — ${hst.total} event${hst.total === 1 ? "" : "s"}`),
    h(
      "ol",
      { class: "dag", "data-testid": "history", "data-count": String(hst.total) },
      ...hst.events.map((ev) =>
        h(
          "li",
          { class: `${ev.genesis ? "genesis" : ""} ${ev.parents.length > 1 ? "merge" : ""} ${heads.has(ev.id) ? "head" : ""}`, "data-event": ev.id },
          h("span", { class: "dot" }),
          h(
            "div",
            { class: "ev" },
            h(
              "div",
              { class: "ev-top" },
              h("code", { title: ev.id }, short(ev.id)),
              ev.genesis ? h("span", { class: "tag" }, "created") : null,
              ev.parents.length > 1 ? h("span", { class: "tag" }, "merge") : null,
              heads.has(ev.id) ? h("span", { class: "tag head" }, "head") : null,
              ev.created ? h("span", { class: "muted small" }, clock(ev.created)) : null,
            ),
            ev.parents.length ? h("div", { class: "muted small" }, "after ", ...ev.parents.map((p) => h("code", { title: p }, short(p) + " "))) : null,
            attribution(ev),
            h(
              "div",
              { class: "ops" },
              ...Object.entries(ev.set ?? {}).map(([k, v]) => h("span", { class: "kv" }, h("span", { class: "k" }, k), " = ", show(v))),
              ...Object.entries(ev.other ?? {}).map(([b, n]) => h("span", { class: "kv" }, h("span", { class: "k" }, b), ` ${n} bytes`)),
            ),
          ),
        ),
      ),
    ),
    hst.truncated ? h("p", { class: "foot" }, `showing the first ${hst.events.length} events`) : null,
    h("p", { class: "foot" }, "Who committed an event, and when, is the server's record of each entity's newest events (", h("code", { class: "nowrap" }, "serve --attribution"), "); older events, and events loaded from a dump without the record, show as unknown."),
  );
}

/**
 * The selection a live query runs, when it differs from what its caller
 * wrote by more than the filter every query gets (deleted entities left out).
 */
function narrowed(q: LiveQueryInfo): string | undefined {
  const eff = q.effective.replace(' AND "_deleted" IS NULL', "");
  return eff !== q.selection ? eff : undefined;
}

function queryRows(qs: LiveQueryInfo[], withSub: boolean) {
  return qs.map((q) => {
    const runs = narrowed(q);
    return h(
      "tr",
      {},
      withSub ? h("td", { class: "num muted opt" }, q.sub ?? "") : null,
      h("td", {}, h("code", {}, q.collection)),
      h("td", { class: "mono" }, q.selection, runs ? h("div", { class: "muted small runs-as" }, "runs as ", runs) : null),
      h("td", { class: "num" }, q.items),
      h("td", { class: "num muted opt" }, q.pending || ""),
    );
  });
}

function queryTable(qs: LiveQueryInfo[], withSub: boolean) {
  return h(
    "table",
    { class: "queries-table" },
    h("thead", {}, h("tr", {}, withSub ? h("th", { class: "num opt" }, "sub") : null, h("th", {}, "collection"), h("th", {}, "selection"), h("th", { class: "num" }, "items"), h("th", { class: "num opt" }, "queued"))),
    h("tbody", {}, ...queryRows(qs, withSub)),
  );
}

function renderPeers() {
  const s = state.snapshot;
  if (!s) return;
  const now = new Date(s.node.time);
  const peers = s.node.peers.map((p) =>
    h(
      "div",
      { class: "peer", "data-peer": p.node_id, "data-subject": p.subject ?? "" },
      h(
        "div",
        { class: "peer-top" },
        h("code", { title: p.node_id }, short(p.node_id)),
        h("span", { class: "tag" }, p.durable ? "durable" : "ephemeral"),
        h("span", { class: "tag" }, p.upstream ? "upstream" : "client"),
        p.subject ? h("span", { class: "who" }, p.subject, p.roles?.length ? h("span", { class: "muted" }, ` (${p.roles.join(", ")})`) : null) : null,
        p.paused ? h("span", { class: "badge warn" }, "credentials expired") : null,
      ),
      h(
        "div",
        { class: "peer-facts muted small" },
        `connected ${ago(p.connected_since, now)} ago · queue ${p.queue_frames} frame${p.queue_frames === 1 ? "" : "s"}, ${bytes(p.queue_bytes)} · `,
        `${p.subscriptions.length} subscription${p.subscriptions.length === 1 ? "" : "s"}`,
        p.credentials_expire ? ` · token expires ${clock(p.credentials_expire)}` : "",
      ),
      p.subscriptions.length ? queryTable(p.subscriptions, true) : null,
    ),
  );
  fill(ui.peers, 
    h("h2", {}, `Peers (${s.node.peers.length})`, h("span", { class: "muted small" }, ` · ${bytes(s.node.queued_bytes)} queued in all`)),
    peers.length ? h("div", {}, ...peers) : h("p", { class: "empty" }, "No peer is connected."),
  );
}

function renderQueries() {
  const s = state.snapshot;
  if (!s) return;
  fill(ui.queries, 
    h("h2", {}, `Live queries of this node (${s.node.live_queries.length})`),
    s.node.live_queries.length ? queryTable(s.node.live_queries, false) : h("p", { class: "empty" }, "None: the server's own code holds no live query."),
  );
}

function render() {
  renderHeader();
  renderCollections();
  renderEntities();
  renderDetail();
  renderPeers();
  renderQueries();
}

// ---- data

async function selectCollection(name: string) {
  if (name === state.collection) return;
  state.lq?.close();
  Object.assign(state, { collection: name, lq: undefined, lqError: "", entities: [], entity: "", history: undefined, historyError: "" });
  render();
  const client = state.client;
  if (!client) return;
  try {
    const lq = await client.query(name, `true LIMIT ${pageSize}`);
    if (state.collection !== name) {
      lq.close();
      return;
    }
    state.lq = lq;
    state.entities = lq.items;
    lq.signal.subscribe((items) => {
      state.entities = items;
      renderEntities();
    });
    lq.subscribe((cs) => {
      if (cs.changes.some((c) => c.entity.id === state.entity)) void loadHistory(state.entity);
    });
  } catch (e) {
    state.lqError = `cannot follow ${name}: ${(e as Error).message}`;
  }
  renderEntities();
}

async function selectEntity(id: string) {
  state.entity = id;
  state.history = undefined;
  state.historyError = "";
  renderEntities();
  renderDetail();
  await loadHistory(id);
}

async function loadHistory(id: string) {
  try {
    const r = await fetch(`/inspect/api/entity?collection=${encodeURIComponent(state.collection)}&id=${encodeURIComponent(id)}`, { headers: authHeaders() });
    const body = await r.json();
    if (state.entity !== id) return;
    if (!r.ok) {
      state.historyError = body.error ?? r.statusText;
    } else {
      state.history = body as History;
      state.historyError = "";
    }
  } catch (e) {
    state.historyError = (e as Error).message;
  }
  renderDetail();
}

/** Follows /inspect/api/stream, reconnecting after a pause when it ends. */
async function follow() {
  for (;;) {
    try {
      const r = await fetch("/inspect/api/stream", { headers: authHeaders() });
      if (r.status === 401 || r.status === 403) {
        renderLogin((await r.json()).error);
        return;
      }
      if (!r.ok || !r.body) throw new Error(r.statusText);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (frame.startsWith("data: ")) {
            state.snapshot = JSON.parse(frame.slice(6)) as Snapshot;
            state.live = "live";
            render();
          }
        }
      }
    } catch {
      // the server went away: try again below
    }
    state.live = "reconnecting";
    renderHeader();
    await new Promise((res) => setTimeout(res, 2000));
  }
}

async function startClient() {
  try {
    const client = await load({ wasmUrl: "/inspect/ankurah.wasm", wasmExecUrl: "/inspect/wasm_exec.js", db: "ankurah-inspector" });
    state.client = client;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    client.connect(`${scheme}//${location.host}/ws`, () => state.token || null);
    client.connection.subscribe((c) => {
      state.conn = c;
      renderHeader();
    });
    state.conn = client.connection.get();
  } catch (e) {
    state.clientError = `the inspector's WebAssembly node did not load: ${(e as Error).message}`;
  }
  render();
}

let started = false;

async function start() {
  const r = await fetch("/inspect/api/snapshot", { headers: authHeaders() });
  if (r.status === 401 || r.status === 403) {
    renderLogin((await r.json()).error);
    return;
  }
  state.snapshot = (await r.json()) as Snapshot;
  ui.login.hidden = true;
  ui.main.hidden = false;
  render();
  if (started) return;
  started = true;
  void follow();
  await startClient();
  const first = state.snapshot?.collections.find((c) => !c.name.startsWith("_"));
  if (first && !state.collection) await selectCollection(first.name);
}

render();
void start();
