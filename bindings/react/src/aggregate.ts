// Hooks over live aggregates: useCount (a live COUNT) and useGroups (a live
// GROUP BY), each opened while the component is mounted and closed on unmount.

import { useEffect, useRef, useState } from "react";
import type { AggregateSpec, Client, Group, LiveAggregate, Signal, Value } from "@ankurah/client";
import { useClient, useSignal } from "./index.ts";

/** What useGroups and useCount return: the groups (or count), the live aggregate once open, and any error. */
export interface AggregateState {
  groups: Group[];
  count: number;
  aggregate: LiveAggregate | undefined;
  loading: boolean;
  error: Error | undefined;
}

const noGroups: Group[] = [];
const emptyGroups: Signal<Group[]> = { get: () => noGroups, subscribe: () => () => {} };
const zero: Signal<number> = { get: () => 0, subscribe: () => () => {} };

/**
 * A live GROUP BY on a collection (with the AnkurahProvider's client),
 * re-opened when the collection, spec, query or arguments change (the
 * previous groups stay until the new aggregate is ready):
 *
 *   const { groups } = useGroups("album", { groupBy: ["artist"], aggs: ["max(year)"] }, "year > ?", 1990);
 */
export function useGroups(collection: string, spec: AggregateSpec, query: string, ...args: Value[]): AggregateState {
  return useAggregateWith(useClient(), collection, spec, query, ...args);
}

/**
 * A live count of the rows of a collection matching query:
 *
 *   const n = useCount("album", "artist = ?", artist);
 */
export function useCount(collection: string, query: string, ...args: Value[]): number {
  return useAggregateWith(useClient(), collection, {}, query, ...args).count;
}

/** useGroups with an explicit client (undefined: no aggregate yet). */
export function useAggregateWith(client: Client | undefined, collection: string, spec: AggregateSpec, query: string, ...args: Value[]): AggregateState {
  const [agg, setAgg] = useState<LiveAggregate>();
  const [error, setError] = useState<Error>();
  const current = useRef<LiveAggregate>(undefined);
  const key = JSON.stringify([collection, spec.groupBy ?? [], spec.aggs ?? [], query, args.map((a) => (a instanceof Uint8Array ? Array.from(a) : a))]);
  useEffect(() => {
    if (!client) return;
    let cancelled = false;
    client.aggregate(collection, spec, query, ...args).then(
      (a) => {
        if (cancelled) return a.close();
        const prev = current.current;
        current.current = a;
        setError(undefined);
        setAgg(a);
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
  const groups = useSignal(agg ? agg.signal : emptyGroups);
  const count = useSignal(agg ? agg.countSignal : zero);
  return { groups, count, aggregate: agg, loading: !agg && !error, error };
}
