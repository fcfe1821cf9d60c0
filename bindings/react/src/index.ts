// @ankurah/react: React hooks over @ankurah/client signals, built on
// useSyncExternalStore so renders never tear; every hook unsubscribes on unmount.

import { createContext, createElement, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import type { Client, Entity, LivePage, LiveQuery, Model, QueryOptions, Signal, Value, Values } from "@ankurah/client";

const ClientContext = createContext<Client | undefined>(undefined);

/** Makes a client available to the hooks below it. */
export function AnkurahProvider({ client, children }: { client: Client; children?: ReactNode }) {
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The client of the nearest AnkurahProvider. */
export function useClient(): Client {
  const c = useContext(ClientContext);
  if (!c) throw new Error("ankurah: useClient needs an <AnkurahProvider client={…}> above it");
  return c;
}

/** The current value of a signal; re-renders when it changes. */
export function useSignal<T>(signal: Signal<T>): T {
  return useSyncExternalStore(
    (onChange) => signal.subscribe(() => onChange()),
    () => signal.get(),
  );
}

const noItems: never[] = [];
const emptySignal: Signal<never[]> = { get: () => noItems, subscribe: () => () => {} };

/** The items of a live query (an empty list while it is undefined). */
export function useLiveQuery<T>(lq: LiveQuery<T> | undefined): Entity<T>[] {
  return useSignal<Entity<T>[]>(lq ? lq.signal : emptySignal);
}

/** The result of useQuery: the items, the live query once open, and any error. */
export interface QueryState<T> {
  items: Entity<T>[];
  /** What the query's includes hold, by include name (empty without includes). */
  included: Record<string, Entity<Values>[]>;
  liveQuery: LiveQuery<T> | undefined;
  loading: boolean;
  error: Error | undefined;
}

/**
 * Opens a live query for a model (with the AnkurahProvider's client) while
 * the component is mounted, and re-opens it when the query text or
 * arguments change (the previous items stay until the new query is ready);
 * closes it on unmount.
 *
 *   const { items } = useQuery(Album, "year > ? ORDER BY year", minYear);
 */
export function useQuery<T>(m: Model<T>, query: string, ...args: Value[]): QueryState<T> {
  return useQueryWith(useClient(), m, query, ...args);
}

/**
 * useQuery with options: related entities delivered with the rows and kept
 * current with them (the relations declared on the client).
 *
 *   const { items, included } = useQueryOptions(Album, { include: ["artist"] }, "year > ?", 1990);
 *   // included.artist: each album's artist
 */
export function useQueryOptions<T>(m: Model<T>, options: QueryOptions, query: string, ...args: Value[]): QueryState<T> {
  return useQueryOn(useClient(), m, options, query, args);
}

/** useQuery with an explicit client (undefined: no query yet). */
export function useQueryWith<T>(client: Client | undefined, m: Model<T>, query: string, ...args: Value[]): QueryState<T> {
  return useQueryOn(client, m, undefined, query, args);
}

const noIncluded: Record<string, Entity<Values>[]> = {};
const emptyIncluded: Signal<Record<string, Entity<Values>[]>> = { get: () => noIncluded, subscribe: () => () => {} };

function useQueryOn<T>(client: Client | undefined, m: Model<T>, options: QueryOptions | undefined, query: string, args: Value[]): QueryState<T> {
  const [lq, setLq] = useState<LiveQuery<T>>();
  const [error, setError] = useState<Error>();
  const current = useRef<LiveQuery<T>>(undefined);
  const key = JSON.stringify([m.collection, options ?? null, query, args.map((a) => (a instanceof Uint8Array ? Array.from(a) : a))]);
  useEffect(() => {
    if (!client) return;
    let cancelled = false;
    (options ? m.queryWith(client, options, query, ...args) : m.query(client, query, ...args)).then(
      (q) => {
        if (cancelled) return q.close();
        // The previous query's items stay on screen until the new one is ready.
        const prev = current.current;
        current.current = q;
        setError(undefined);
        setLq(q);
        prev?.close();
      },
      (e: Error) => {
        if (!cancelled) setError(e);
      },
    );
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, key]);
  useEffect(
    () => () => {
      current.current?.close();
      current.current = undefined;
    },
    [],
  );
  const items = useLiveQuery(lq);
  const included = useSignal(lq ? lq.included : emptyIncluded);
  return { items, included, liveQuery: lq, loading: !lq && !error, error };
}

/**
 * The latest snapshot of an entity (as the client's live queries and reads
 * see it); re-renders when it changes. Undefined once deleted.
 */
export function useEntity<T = Values>(e: Entity<T> | string): Entity<T> | undefined {
  return useSignal(useClient().entity<T>(typeof e === "string" ? e : e.id));
}

/** The result of usePage: the live page's items and the moves between pages. */
export interface PageState<T> {
  items: Entity<T>[];
  /** The live page once open. */
  page: LivePage<T> | undefined;
  /** Moves to the page after the last item (nothing while the page is empty). */
  next: () => Promise<void>;
  /** Moves back to the page next came from (nothing on the first page). */
  prev: () => Promise<void>;
  /** Moves to the first page. */
  first: () => Promise<void>;
  /** Whether prev has a page to go back to. */
  hasPrev: boolean;
  /** Pages forward from the first (0 on the first page). */
  index: number;
  loading: boolean;
  /** The error of opening the page or of the last move. */
  error: Error | undefined;
}

/**
 * A live page of an ordered query (Client.queryPage) while the component
 * is mounted, from the first page; re-opened when the query text or
 * arguments change, closed on unmount. Its items stay current as rows
 * enter and leave the window; next, prev and first move it.
 *
 *   const { items, next, prev, hasPrev } = usePage(Album, "true ORDER BY year LIMIT 20");
 */
export function usePage<T>(m: Model<T>, query: string, ...args: Value[]): PageState<T> {
  return usePageWith(useClient(), m, query, ...args);
}

/** usePage with an explicit client (undefined: no page yet). */
export function usePageWith<T>(client: Client | undefined, m: Model<T>, query: string, ...args: Value[]): PageState<T> {
  const [lp, setLp] = useState<LivePage<T>>();
  const [error, setError] = useState<Error>();
  const [pos, setPos] = useState({ index: 0, hasPrev: false });
  const current = useRef<LivePage<T>>(undefined);
  const key = JSON.stringify([m.collection, query, args.map((a) => (a instanceof Uint8Array ? Array.from(a) : a))]);
  useEffect(() => {
    if (!client) return;
    let cancelled = false;
    m.queryPage(client, query, null, ...args).then(
      (p) => {
        if (cancelled) return p.close();
        const prev = current.current;
        current.current = p;
        setError(undefined);
        setPos({ index: 0, hasPrev: false });
        setLp(p);
        prev?.close();
      },
      (e: Error) => {
        if (!cancelled) setError(e);
      },
    );
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, key]);
  useEffect(
    () => () => {
      current.current?.close();
      current.current = undefined;
    },
    [],
  );
  const items = useLiveQuery(lp);
  const mover = (f: (p: LivePage<T>) => Promise<void>) => async () => {
    const p = current.current;
    if (!p) return;
    try {
      await f(p);
      if (current.current === p) {
        setError(undefined);
        setPos({ index: p.index, hasPrev: p.hasPrev });
      }
    } catch (e) {
      if (current.current === p) setError(e as Error);
    }
  };
  return {
    items,
    page: lp,
    next: mover((p) => p.nextPage()),
    prev: mover((p) => p.prevPage()),
    first: mover((p) => p.first()),
    hasPrev: pos.hasPrev,
    index: pos.index,
    loading: !lp && !error,
    error,
  };
}

export { useAggregateWith, useCount, useGroups, type AggregateState } from "./aggregate.ts";
