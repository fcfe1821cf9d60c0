// @ankurah/client: the Ankurah browser client. A Go ephemeral node compiled
// to WebAssembly keeps a copy of what the app reads in IndexedDB, syncs with
// a durable node over a WebSocket, and works offline; this package loads it
// and gives it a typed API.
//
//   const client = await load({ wasmUrl: "/ankurah.wasm", wasmExecUrl: "/wasm_exec.js" });
//   client.connect("ws://" + location.host + "/ws", () => token());
//   const Album = model<AlbumRecord>(AlbumCollection);
//   const albums = await Album.query(client, "year > ? ORDER BY year", 1985);
//   albums.signal.subscribe((items) => render(items));
//   const page = await client.fetchPage("album", "true ORDER BY year LIMIT 20", null);
//   const more = await client.fetchPage("album", "true ORDER BY year LIMIT 20", page.next);

import { thrownKey, type ChangeKind, type ConnectOptions, type ConnectionState, type QueryOptions, type RawAPI, type RawChangeSet, type RawEntity, type Relation, type Value } from "./raw.ts";
import { Mutable, type Signal } from "./signal.ts";
import { openAggregate, type AggregateSpec, type LiveAggregate } from "./aggregate.ts";

export type { AnkurahError, ChangeKind, ConnectOptions, ConnectionState, JSONValue, QueryOptions, Relation, Value } from "./raw.ts";
export { isAnkurahError } from "./raw.ts";
export { Mutable, type Signal } from "./signal.ts";
export { LiveAggregate, type AggregateSpec, type Group, type GroupChange, type GroupChangeSet } from "./aggregate.ts";

/** Property values of a record: what ankurah-gen's TypeScript interfaces describe. */
export type Values = { [key: string]: Value };

/** An immutable snapshot of an entity. */
export interface Entity<T = Values> {
  readonly id: string;
  readonly collection: string;
  readonly values: Readonly<T>;
}

/** One entity's change in a ChangeSet. */
export interface Change<T = Values> {
  kind: ChangeKind;
  entity: Entity<T>;
}

/** One included entity's change in a ChangeSet (see QueryOptions). */
export interface IncludeChange {
  /** The include's name: the property of include, or the key of includeReverse. */
  name: string;
  kind: ChangeKind;
  entity: Entity<Values>;
}

/**
 * What a live query reports for one commit: the changes and the result set
 * after them; with includes, the included entities' changes (in the same
 * ChangeSet as the row changes that caused them) and every include's
 * entities after them.
 */
export interface ChangeSet<T = Values> {
  changes: Change<T>[];
  items: Entity<T>[];
  includeChanges: IncludeChange[];
  included: Record<string, Entity<Values>[]>;
}

/**
 * One page of an ordered fetch (Client.fetchPage): the rows in ORDER BY
 * order and the cursor continuing after the last of them, null when the
 * page is empty. A page shorter than the query's LIMIT is the last one.
 */
export interface Page<T = Values> {
  items: Entity<T>[];
  next: string | null;
}

/** Where to find the WebAssembly node and Go's wasm_exec.js, and which IndexedDB database to use. */
export interface LoadOptions {
  /** URL of ankurah.wasm (default "/ankurah.wasm"). */
  wasmUrl?: string;
  /** URL of Go's wasm_exec.js (default "/wasm_exec.js"); skipped when globalThis.Go exists. */
  wasmExecUrl?: string;
  /** IndexedDB database name (default "ankurah"). */
  db?: string;
}

declare global {
  // eslint-disable-next-line no-var
  var __ankurah: RawAPI | undefined;
  // eslint-disable-next-line no-var
  var Go: { new (): { importObject: WebAssembly.Imports; run(i: WebAssembly.Instance): Promise<void> } } | undefined;
}

function loadScript(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = url;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`ankurah: could not load ${url}`));
    document.head.appendChild(s);
  });
}

let loading: Promise<RawAPI> | undefined;

async function loadRaw(opts: LoadOptions): Promise<RawAPI> {
  if (globalThis.__ankurah) return throwing(globalThis.__ankurah);
  if (!globalThis.Go) await loadScript(opts.wasmExecUrl ?? "/wasm_exec.js");
  const go = new globalThis.Go!();
  const url = opts.wasmUrl ?? "/ankurah.wasm";
  const resp = fetch(url);
  let inst: WebAssembly.Instance;
  try {
    inst = (await WebAssembly.instantiateStreaming(resp, go.importObject)).instance;
  } catch {
    // Servers that send another Content-Type than application/wasm.
    const bytes = await (await fetch(url)).arrayBuffer();
    inst = (await WebAssembly.instantiate(bytes, go.importObject)).instance;
  }
  void go.run(inst); // resolves when the Go program exits, which it does not
  if (!globalThis.__ankurah) throw new Error("ankurah: the WebAssembly module did not export its API");
  return throwing(globalThis.__ankurah);
}

/**
 * The Go side cannot throw from a synchronous call (a Go panic there ends
 * the program), so it returns {__ankurahThrow: error}; this throws it.
 */
function throwing(api: RawAPI): RawAPI {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(api)) {
    if (typeof f !== "function") {
      out[k] = f;
      continue;
    }
    out[k] = (...args: unknown[]) => {
      const r: unknown = f(...args);
      if (r !== null && typeof r === "object" && thrownKey in r) throw (r as Record<string, unknown>)[thrownKey];
      return r;
    };
  }
  return out as unknown as RawAPI;
}

/** Loads the WebAssembly node (once per page) and opens its IndexedDB database. */
export async function load(opts: LoadOptions = {}): Promise<Client> {
  loading ??= loadRaw(opts);
  const raw = await loading;
  await raw.open(opts.db ?? "ankurah");
  return new Client(raw);
}

function includedOf(client: Client, raw: Record<string, RawEntity[]>): Record<string, Entity<Values>[]> {
  const out: Record<string, Entity<Values>[]> = {};
  for (const [name, es] of Object.entries(raw)) out[name] = es.map((e) => client.remember(entity<Values>(e)));
  return out;
}

function entity<T>(e: RawEntity): Entity<T> {
  const out: Entity<T> = { id: e.id, collection: e.collection, values: Object.freeze(e.values) as unknown as T };
  if (e.deleted) (out as { deleted?: boolean }).deleted = true;
  return Object.freeze(out);
}

/** The client: an ephemeral node, its connection, and the app's reads and writes. */
export class Client {
  private conn = new Mutable<ConnectionState>("offline");
  private connSub: number | undefined;
  private entities = new Map<string, Mutable<Entity<any> | undefined>>();

  /** @internal */
  constructor(readonly raw: RawAPI) {
    this.conn.set(raw.connectionState());
  }

  /**
   * Keeps the node connected to a durable node's WebSocket endpoint. url may be an array
   * of the endpoints of several servers sharing one database: the first is tried first,
   * and when a connection fails or drops the client moves on to the next. token is
   * a string, or a function called on every (re)connection so a renewed token is used.
   * While disconnected it retries with jittered exponential backoff between the options' bounds.
   *
   * When the token is a JWT with an `exp` claim, the function is also called ahead of
   * expiry and its result sent on the open connection: after 90% of the lifetime left
   * when the token was sent, or 30 s before `exp`, whichever is later. It is called at
   * once, too, when the server says the connection's token expired (until a fresh one
   * arrives the server refuses requests and pauses live queries). Keep the function
   * synchronous and cheap (return a cached token; renew it in the background): it may
   * run at any time. A token identical to the one the connection holds is not resent.
   */
  connect(url: string | string[], token?: string | (() => string | null | undefined), options?: ConnectOptions): void {
    this.raw.connect(url, token, options);
    this.connSub = this.raw.subscribeConnectionState((s) => this.conn.set(s));
    this.conn.set(this.raw.connectionState());
  }

  /** Disconnects and stops reconnecting; the node keeps working offline. */
  async disconnect(): Promise<void> {
    if (this.connSub !== undefined) this.raw.unsubscribe(this.connSub);
    this.connSub = undefined;
    await this.raw.disconnect();
    this.conn.set("offline");
  }

  /** Sends fresh credentials (the token function's new value) on the current connection. */
  refreshCredentials(): void {
    this.raw.refreshCredentials();
  }

  /** The connection state as a signal. */
  get connection(): Signal<ConnectionState> {
    return this.conn;
  }

  /** Resolves once a durable node is connected. */
  ready(): Promise<void> {
    return this.raw.ready();
  }

  /** Reads one entity; rejects with code "not_found" when it is missing or deleted. */
  async get<T = Values>(collection: string, id: string): Promise<Entity<T>> {
    return this.remember(entity<T>(await this.raw.get(collection, id)));
  }

  /** Reads the entities matching an AnkQL query once. */
  async fetch<T = Values>(collection: string, query: string, ...args: Value[]): Promise<Entity<T>[]> {
    return (await this.raw.fetch(collection, query, args)).map((e) => this.remember(entity<T>(e)));
  }

  /**
   * One page of an ordered fetch: the rows the query's ORDER BY (ties by
   * entity id) sorts after the cursor after, at most its LIMIT of them.
   * after is a cursor from an earlier page (Page.next, LiveQuery.next,
   * cursorAt), or null for the first page. Pages stay stable while rows are
   * inserted and deleted elsewhere: none that stayed is skipped or repeated.
   * A cursor that does not decode or does not fit the ORDER BY rejects with
   * code "cursor".
   *
   *   let page = await client.fetchPage("album", "year > ? ORDER BY year LIMIT 20", null, 1985);
   *   while (page.next) page = await client.fetchPage("album", "year > ? ORDER BY year LIMIT 20", page.next, 1985);
   */
  async fetchPage<T = Values>(collection: string, query: string, after: string | null | undefined, ...args: Value[]): Promise<Page<T>> {
    const p = await this.raw.fetchPage(collection, query, args, after ?? null);
    return { items: p.items.map((e) => this.remember(entity<T>(e))), next: p.next };
  }

  /**
   * The cursor of an entity, as it is now, under the query's ORDER BY: pass
   * it as fetchPage's after, or queryPage's, to continue after it.
   */
  cursorAt(collection: string, query: string, id: string, ...args: Value[]): Promise<string> {
    return this.raw.cursorAt(collection, query, args, id);
  }

  /**
   * A live page: the first LIMIT rows the query's ORDER BY sorts after the
   * cursor after (null: the first page), kept current as rows enter and
   * leave the window, and movable to another page (nextPage, prevPage,
   * first, moveTo). A bad cursor rejects with code "cursor".
   *
   *   const page = await client.queryPage("album", "true ORDER BY year LIMIT 20", null);
   *   await page.nextPage();
   */
  async queryPage<T = Values>(collection: string, query: string, after: string | null | undefined, ...args: Value[]): Promise<LivePage<T>> {
    const h = await this.raw.query(collection, query, args, { after: after ?? null });
    return new LivePage<T>(this, h, collection, query, args);
  }

  /** A live query: its result set now, and kept current as commits land. */
  async query<T = Values>(collection: string, query: string, ...args: Value[]): Promise<LiveQuery<T>> {
    const h = await this.raw.query(collection, query, args);
    return new LiveQuery<T>(this, h, collection);
  }

  /**
   * A live query that also delivers related entities, kept current with the rows:
   *
   *   const lq = await client.queryWith("album", { include: ["artist"] }, "year > ?", 1990);
   *   lq.included.get().artist; // each album's artist
   *   await client.queryWith("artist", { includeReverse: { albums: "album.artist" } }, "name = ?", "Muse");
   *
   * With after, it is a live page starting after that cursor (see queryPage).
   */
  async queryWith<T = Values>(collection: string, options: QueryOptions, query: string, ...args: Value[]): Promise<LiveQuery<T>> {
    const h = await this.raw.query(collection, query, args, options);
    return new LiveQuery<T>(this, h, collection);
  }

  /**
   * Declares reference properties (ankurah-gen's TypeScript `…Relations`),
   * which includes and traversal paths follow:
   *
   *   client.declareRelations([{ collection: "album", property: "artist", target: "artist" }]);
   */
  declareRelations(relations: Relation[]): void {
    this.raw.declareRelations(relations);
  }

  /** A live count of the rows matching an AnkQL query (no ORDER BY or LIMIT) that the caller may read. */
  count(collection: string, query: string, ...args: Value[]): Promise<LiveAggregate> {
    return openAggregate(this.raw, collection, {}, query, args);
  }

  /**
   * A live GROUP BY over the rows matching an AnkQL query that the caller may read:
   *
   *   const byArtist = await client.aggregate("album", { groupBy: ["artist"], aggs: ["max(year)"] }, "true");
   */
  aggregate(collection: string, spec: AggregateSpec, query: string, ...args: Value[]): Promise<LiveAggregate> {
    return openAggregate(this.raw, collection, spec, query, args);
  }

  /** Starts a transaction. */
  begin(): Transaction {
    return new Transaction(this, this.raw.begin());
  }

  /** Runs f in a transaction and commits it (rolls back if f throws). */
  async transaction<R>(f: (trx: Transaction) => Promise<R> | R): Promise<R> {
    const trx = this.begin();
    let r: R;
    try {
      r = await f(trx);
    } catch (e) {
      trx.rollback();
      throw e;
    }
    await trx.commit();
    return r;
  }

  /**
   * The latest snapshot of an entity that any live query or read of this
   * client has seen, as a signal (undefined once it leaves them by deletion).
   */
  entity<T = Values>(id: string): Signal<Entity<T> | undefined> {
    let s = this.entities.get(id);
    if (!s) {
      s = new Mutable<Entity<any> | undefined>(undefined);
      this.entities.set(id, s);
    }
    return s as Signal<Entity<T> | undefined>;
  }

  /** @internal */
  remember<T>(e: Entity<T>): Entity<T> {
    const s = this.entities.get(e.id);
    if ((e as { deleted?: boolean }).deleted) {
      s?.set(undefined);
      return e;
    }
    if (s && s.get() !== e) s.set(e);
    else if (!s) this.entities.set(e.id, new Mutable<Entity<any> | undefined>(e));
    return e;
  }
}

/** A query that stays current. Its items are a signal; close it when done. */
export class LiveQuery<T = Values> {
  private itemsSig: Mutable<Entity<T>[]>;
  private includedSig: Mutable<Record<string, Entity<Values>[]>>;
  private listeners = new Set<(cs: ChangeSet<T>) => void>();
  private sub: number | undefined;
  private closed = false;

  /** @internal */
  constructor(protected client: Client, protected h: number, readonly collection: string) {
    this.itemsSig = new Mutable(client.raw.lqItems(h).map((e) => client.remember(entity<T>(e))));
    this.includedSig = new Mutable(includedOf(client, client.raw.lqIncluded(h)));
    let first = true;
    this.sub = client.raw.lqSubscribe(h, (raw: RawChangeSet) => {
      if (first) {
        first = false; // the Initial set: items were already read
        return;
      }
      const cs: ChangeSet<T> = {
        changes: raw.changes.map((c) => ({ kind: c.kind, entity: client.remember(entity<T>(c.entity)) })),
        items: raw.items.map((e) => client.remember(entity<T>(e))),
        includeChanges: raw.includeChanges.map((c) => ({ name: c.name, kind: c.kind, entity: client.remember(entity<Values>(c.entity)) })),
        included: includedOf(client, raw.included),
      };
      this.itemsSig.set(cs.items);
      if (cs.includeChanges.length > 0) this.includedSig.set(cs.included);
      for (const f of [...this.listeners]) f(cs);
    });
  }

  /** The current result set, in the query's order. */
  get items(): Entity<T>[] {
    return this.itemsSig.get();
  }

  /** The result set as a signal. */
  get signal(): Signal<Entity<T>[]> {
    return this.itemsSig;
  }

  /** What the includes hold, by include name, as a signal (empty without includes). */
  get included(): Signal<Record<string, Entity<Values>[]>> {
    return this.includedSig;
  }

  /** Calls f with one ChangeSet per commit that changes the result set. */
  subscribe(f: (cs: ChangeSet<T>) => void): () => void {
    this.listeners.add(f);
    return () => {
      this.listeners.delete(f);
    };
  }

  /** Re-points the live query at a new query (pagination, a changed filter), from its first row. */
  updateSelection(query: string, ...args: Value[]): Promise<void> {
    return this.client.raw.lqUpdateSelection(this.h, query, args);
  }

  /**
   * Re-points the live query at a new query whose result starts after the
   * cursor after (null: the first row), reported as one ChangeSet. A bad
   * cursor rejects with code "cursor".
   */
  updateSelectionAfter(after: string | null, query: string, ...args: Value[]): Promise<void> {
    return this.client.raw.lqUpdateSelection(this.h, query, args, { after });
  }

  /** The cursor after the current last row (to fetch or watch the next page), or null while the result is empty. */
  get next(): string | null {
    return this.client.raw.lqNext(this.h);
  }

  /** The cursor the result starts after, or null when it starts at the first row. */
  get after(): string | null {
    return this.client.raw.lqAfter(this.h);
  }

  /** The cursor of an entity in the current result; throws (code "invalid_argument") for one not in it. */
  cursorAt(id: string): string {
    return this.client.raw.lqCursorAt(this.h, id);
  }

  /** Stops the live query. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sub !== undefined) this.client.raw.unsubscribe(this.sub);
    this.client.raw.lqClose(this.h);
    this.listeners.clear();
  }
}

/**
 * A live query over one page of an ordered query (Client.queryPage): its
 * items are the first LIMIT rows after a cursor, kept current, and it
 * moves between pages. It remembers the cursors of the pages it moved
 * forward from, so prevPage goes back through them. Moves run one at a
 * time, in the order they were asked for.
 */
export class LivePage<T = Values> extends LiveQuery<T> {
  private history: (string | null)[] = [];
  private moving: Promise<void> = Promise.resolve();

  /** @internal */
  constructor(client: Client, h: number, collection: string, readonly query: string, readonly args: Value[]) {
    super(client, h, collection);
  }

  /** Whether prevPage has a page to go back to. */
  get hasPrev(): boolean {
    return this.history.length > 0;
  }

  /** How many pages forward from the first this page is (0 on the first page, or after moveTo). */
  get index(): number {
    return this.history.length;
  }

  private move(f: () => { to: string | null; push?: boolean; pop?: boolean; clear?: boolean } | undefined): Promise<void> {
    const run = this.moving.then(async () => {
      const m = f();
      if (!m) return;
      const from = this.after;
      await this.updateSelectionAfter(m.to, this.query, ...this.args);
      if (m.push) this.history.push(from);
      if (m.pop) this.history.pop();
      if (m.clear) this.history = [];
    });
    this.moving = run.catch(() => {});
    return run;
  }

  /** Moves to the page after the current last row; does nothing while the page is empty. */
  nextPage(): Promise<void> {
    return this.move(() => {
      const n = this.next;
      return n === null ? undefined : { to: n, push: true };
    });
  }

  /** Moves back to the page this one was reached from by nextPage; does nothing on the first. */
  prevPage(): Promise<void> {
    return this.move(() => (this.history.length === 0 ? undefined : { to: this.history[this.history.length - 1], pop: true }));
  }

  /** Moves to the first page. */
  first(): Promise<void> {
    return this.move(() => ({ to: null, clear: true }));
  }

  /** Moves to the page after a cursor (null: the first page), forgetting the pages before. */
  moveTo(after: string | null): Promise<void> {
    return this.move(() => ({ to: after, clear: true }));
  }
}

/** A group of edits that commit together. */
export class Transaction {
  private muts: Mut<any>[] = [];
  /** @internal */
  constructor(private client: Client, private h: number) {}

  /** Starts a new entity with initial values; its id is known after commit. */
  create<T = Values>(collection: string, values: Partial<T> = {}): Mut<T> {
    const m = new Mut<T>(this.client, this.client.raw.trxCreate(this.h, collection, values as Record<string, Value>), collection, null);
    this.muts.push(m);
    return m;
  }

  /** Edits an existing entity (the same entity twice gives the same edits). */
  async edit<T = Values>(collection: string, id: string): Promise<Mut<T>> {
    const m = new Mut<T>(this.client, await this.client.raw.trxEdit(this.h, collection, id), collection, id);
    this.muts.push(m);
    return m;
  }

  /** Deletes an entity. */
  delete(collection: string, id: string): Promise<void> {
    return this.client.raw.trxDelete(this.h, collection, id);
  }

  /**
   * Undoes an entity's deletion when the transaction commits: it comes back
   * with its id, values and history (an entity that is not deleted is left
   * as it is). Resolves with the entity, for more edits in the transaction.
   * A delete and a restore merge like any two writes: the later one wins.
   */
  async restore<T = Values>(collection: string, id: string): Promise<Mut<T>> {
    const m = new Mut<T>(this.client, await this.client.raw.trxRestore(this.h, collection, id), collection, id);
    this.muts.push(m);
    return m;
  }

  /**
   * Commits. Resolves when a durable node accepted it, or at once while
   * offline (the commit is sent on reconnection). Created entities get their ids.
   */
  async commit(): Promise<string[]> {
    const ids = await this.client.raw.trxCommit(this.h);
    this.muts.forEach((m, i) => m._committed(ids[i] ?? null));
    return ids;
  }

  /** Ends the transaction without writing anything. */
  rollback(): void {
    this.client.raw.trxRollback(this.h);
  }
}

/** An entity being edited in a transaction. */
export class Mut<T = Values> {
  /** @internal */
  constructor(private client: Client, private h: number, readonly collection: string, private _id: string | null) {}

  /** The entity id (null for a creation until its transaction commits). */
  get id(): string | null {
    return this._id;
  }

  /**
   * Sets properties. A property declared as a reference (Client.declareRelations)
   * takes the referenced entity's id or null.
   */
  set(values: Partial<T>): this {
    this.client.raw.mutSet(this.h, values as Record<string, Value>);
    return this;
  }

  /** The values as this transaction sees them. */
  values(): T {
    return this.client.raw.mutValues(this.h) as unknown as T;
  }

  /** Marks the entity deleted when the transaction commits. */
  delete(): void {
    this.client.raw.mutDelete(this.h);
  }

  /**
   * The collaborative text property prop (a text.Text field in the Go
   * model), for editing. Its edits merge with concurrent edits from other
   * clients instead of overwriting them; reads give the property as a string.
   */
  text(prop: Extract<keyof T, string>): TextMut {
    return new TextMut(this.client, this.h, prop);
  }

  /** @internal */
  _committed(id: string | null): void {
    this._id = id;
  }
}

/**
 * Edits one collaborative text property of an entity in a transaction.
 * Positions and lengths count Unicode code points, not UTF-16 code units
 * (JavaScript string indices): "a😀b" has length 3. Use codePoints() to
 * convert a string index such as a textarea's selectionStart.
 */
export class TextMut {
  /** @internal */
  constructor(private client: Client, private h: number, readonly property: string) {}

  /** The text as this transaction sees it ("" when unset). */
  value(): string {
    return this.client.raw.mutText(this.h, this.property);
  }

  /** The length of the text in code points. */
  get length(): number {
    return codePoints(this.value());
  }

  /** Inserts s at code point position pos (0 ≤ pos ≤ length). */
  insert(pos: number, s: string): this {
    this.client.raw.mutTextInsert(this.h, this.property, pos, s);
    return this;
  }

  /** Deletes n code points from position pos. */
  delete(pos: number, n: number): this {
    this.client.raw.mutTextDelete(this.h, this.property, pos, n);
    return this;
  }

  /** Replaces n code points from position pos with s. */
  splice(pos: number, n: number, s: string): this {
    this.client.raw.mutTextSplice(this.h, this.property, pos, n, s);
    return this;
  }

  /**
   * Makes the text equal to s, editing only what lies between the common
   * prefix and suffix of the old and new text (one delete and one insert),
   * so concurrent edits elsewhere in the text survive. Suits an input's
   * onChange.
   */
  replace(s: string): this {
    this.client.raw.mutTextReplace(this.h, this.property, s);
    return this;
  }
}

/**
 * The number of Unicode code points in s, or in s.slice(0, utf16Index):
 * converts a JavaScript string index to a TextMut position.
 */
export function codePoints(s: string, utf16Index: number = s.length): number {
  let n = 0;
  for (let i = 0; i < utf16Index && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Typed helpers for one collection, for a record type from ankurah-gen's TypeScript output. */
export interface Model<T> {
  readonly collection: string;
  get(ctx: Client, id: string): Promise<Entity<T>>;
  fetch(ctx: Client, query: string, ...args: Value[]): Promise<Entity<T>[]>;
  query(ctx: Client, query: string, ...args: Value[]): Promise<LiveQuery<T>>;
  /** query with related entities delivered too (Client.queryWith). */
  queryWith(ctx: Client, options: QueryOptions, query: string, ...args: Value[]): Promise<LiveQuery<T>>;
  /** One page of an ordered fetch (Client.fetchPage). */
  fetchPage(ctx: Client, query: string, after: string | null | undefined, ...args: Value[]): Promise<Page<T>>;
  /** A live page (Client.queryPage). */
  queryPage(ctx: Client, query: string, after: string | null | undefined, ...args: Value[]): Promise<LivePage<T>>;
  create(trx: Transaction, values: Partial<T>): Mut<T>;
  edit(trx: Transaction, id: string): Promise<Mut<T>>;
}

/**
 * Binds a record type to its collection:
 *
 *   import { type Album as AlbumRecord, AlbumCollection } from "./ankurah_gen";
 *   export const Album = model<AlbumRecord>(AlbumCollection);
 *   const lq = await Album.query(client, "year > ?", 1985); // LiveQuery<AlbumRecord>
 */
export function model<T>(collection: string): Model<T> {
  return {
    collection,
    get: (ctx, id) => ctx.get<T>(collection, id),
    fetch: (ctx, q, ...args) => ctx.fetch<T>(collection, q, ...args),
    query: (ctx, q, ...args) => ctx.query<T>(collection, q, ...args),
    queryWith: (ctx, options, q, ...args) => ctx.queryWith<T>(collection, options, q, ...args),
    fetchPage: (ctx, q, after, ...args) => ctx.fetchPage<T>(collection, q, after, ...args),
    queryPage: (ctx, q, after, ...args) => ctx.queryPage<T>(collection, q, after, ...args),
    create: (trx, values) => trx.create<T>(collection, values),
    edit: (trx, id) => trx.edit<T>(collection, id),
  };
}
