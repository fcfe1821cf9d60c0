// The object the Go program exports on globalThis.__ankurah
// (bindings/wasm/api.go). Applications use the typed classes instead.
// RawAPI describes it as load() hands it on: a synchronous function's error,
// which the Go side returns as {__ankurahThrow: error}, thrown.

/** The key under which a synchronous export of the Go side returns its error. */
export const thrownKey = "__ankurahThrow";

/** A property value: null, boolean, number, string, bytes, JSON, or an entity id (refs). */
export type Value = null | boolean | number | string | Uint8Array | JSONValue;
/** A JSON value (stored as a json property). */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** An entity snapshot as the node returns it. */
export interface RawEntity {
  id: string;
  collection: string;
  values: Record<string, Value>;
  deleted?: boolean;
}

/** How an entity's membership in a live query changed. */
export type ChangeKind = "Initial" | "Add" | "Update" | "Remove";

export interface RawChangeSet {
  changes: { kind: ChangeKind; entity: RawEntity }[];
  items: RawEntity[];
  includeChanges: { name: string; kind: ChangeKind; entity: RawEntity }[];
  included: Record<string, RawEntity[]>;
}

/**
 * What a live query delivers besides its rows: `include` names reference
 * properties of the rows (each row's referenced entity), `includeReverse`
 * maps a name to "collection.property" (the entities referring to the rows).
 * The relations must be declared (Client.declareRelations).
 */
export interface QueryOptions {
  include?: string[];
  includeReverse?: Record<string, string>;
  /**
   * A cursor (Page.next, LiveQuery.next, Client.cursorAt): the live query
   * becomes a live page, its rows those the ORDER BY sorts after the cursor
   * (with a LIMIT, the first LIMIT of them, kept current). null or "": from
   * the first row.
   */
  after?: string | null;
}

/** A page of rows as fetchPage returns it. */
export interface RawPage {
  items: RawEntity[];
  next: string | null;
}

/** A reference property: collection.property holds ids of entities of target. */
export interface Relation {
  collection: string;
  property: string;
  target: string;
}

/** The connection state of the client ("offline" before connect). */
export type ConnectionState = "offline" | "connecting" | "connected" | "disconnected" | "closed";

/** Reconnect backoff bounds (defaults 1 s and 30 s). */
export interface ConnectOptions {
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface RawAPI {
  open(db: string): Promise<void>;
  connect(url: string | string[], token?: string | (() => string | null | undefined), options?: ConnectOptions): void;
  disconnect(): Promise<void>;
  refreshCredentials(): void;
  connectionState(): ConnectionState;
  subscribeConnectionState(cb: (s: ConnectionState) => void): number;
  unsubscribe(sub: number): void;
  ready(): Promise<void>;
  get(collection: string, id: string): Promise<RawEntity>;
  fetch(collection: string, query: string, args: Value[]): Promise<RawEntity[]>;
  query(collection: string, query: string, args: Value[], options?: QueryOptions): Promise<number>;
  lqItems(h: number): RawEntity[];
  lqIncluded(h: number): Record<string, RawEntity[]>;
  declareRelations(relations: Relation[]): void;
  lqSubscribe(h: number, cb: (cs: RawChangeSet) => void): number;
  lqUpdateSelection(h: number, query: string, args: Value[], options?: { after?: string | null }): Promise<void>;
  fetchPage(collection: string, query: string, args: Value[], after?: string | null): Promise<RawPage>;
  cursorAt(collection: string, query: string, args: Value[], id: string): Promise<string>;
  lqCursorAt(h: number, id: string): string;
  lqNext(h: number): string | null;
  lqAfter(h: number): string | null;
  lqClose(h: number): void;
  begin(): number;
  trxCreate(t: number, collection: string, values?: Record<string, Value>): number;
  trxEdit(t: number, collection: string, id: string): Promise<number>;
  trxDelete(t: number, collection: string, id: string): Promise<void>;
  trxRestore(t: number, collection: string, id: string): Promise<number>;
  trxCommit(t: number): Promise<string[]>;
  trxRollback(t: number): void;
  mutSet(m: number, values: Record<string, Value>): void;
  mutValues(m: number): Record<string, Value>;
  mutDelete(m: number): void;
  mutId(m: number): string | null;
  /** Collaborative text (positions and lengths in Unicode code points). */
  mutText(m: number, prop: string): string;
  mutTextInsert(m: number, prop: string, pos: number, text: string): void;
  mutTextDelete(m: number, prop: string, pos: number, n: number): void;
  mutTextSplice(m: number, prop: string, pos: number, n: number, text: string): void;
  mutTextReplace(m: number, prop: string, text: string): void;
}

/** The Error the Go side throws or rejects with: the Go message and a stable code. */
export interface AnkurahError extends Error {
  name: "AnkurahError";
  code:
    | "not_found" | "conflict" | "syntax" | "bind" | "type" | "access_denied" | "unauthenticated"
    | "transaction_done" | "invalid_name" | "closed" | "budget_exceeded" | "limit" | "busy" | "invalid_argument"
    | "cursor" | "cursor_unsupported" | "internal";
}

/** Reports whether e is an error from the node with the given code. */
export function isAnkurahError(e: unknown, code?: AnkurahError["code"]): e is AnkurahError {
  return e instanceof Error && e.name === "AnkurahError" && (code === undefined || (e as AnkurahError).code === code);
}
