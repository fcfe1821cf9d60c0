// Live aggregates: a count, or a GROUP BY with sum/min/max/avg, over an AnkQL
// selection, kept by the durable node and pushed to the client per commit.

import type { AnkurahError, ChangeKind, RawAPI, Value } from "./raw.ts";
import { Mutable, type Signal } from "./signal.ts";

/**
 * How to group and aggregate: groupBy names properties (none: one group of
 * every row, a count); aggs are terms in text form, "sum(price)", "min(year)",
 * "max(year)", "avg(tracks)".
 */
export interface AggregateSpec {
  groupBy?: string[];
  aggs?: string[];
}

/**
 * One group: its key (the groupBy values, in order), how many rows it has,
 * and one value per term of the spec (null where no row had a value the term
 * takes). Numbers that are integral read as integers.
 */
export interface Group {
  readonly key: Value[];
  readonly count: number;
  readonly values: Value[];
}

/** One group's change: Initial, Add (a new group), Update, or Remove (its last row left). */
export interface GroupChange {
  kind: ChangeKind;
  group: Group;
}

/** The groups that changed since the last change set, and every group after them, ordered by key. */
export interface GroupChangeSet {
  changes: GroupChange[];
  groups: Group[];
}

/** @internal */
export interface RawAggregateAPI {
  aggregate(collection: string, query: string, args: Value[], groupBy: string[], aggs: string[]): Promise<number>;
  agGroups(h: number): Group[];
  agSubscribe(h: number, cb: (cs: GroupChangeSet) => void): number;
  agError(h: number): AnkurahError | null;
  agClose(h: number): void;
}

function freeze(g: Group): Group {
  return Object.freeze({ key: Object.freeze(g.key) as Value[], count: g.count, values: Object.freeze(g.values) as Value[] });
}

function total(gs: Group[]): number {
  let n = 0;
  for (const g of gs) n += g.count;
  return n;
}

/**
 * A live count or GROUP BY. Its groups (and their total count) are signals;
 * a subscriber slower than commits gets their changes coalesced. Close it when done.
 */
export class LiveAggregate {
  private groupsSig: Mutable<Group[]>;
  private countSig: Mutable<number>;
  private listeners = new Set<(cs: GroupChangeSet) => void>();
  private sub: number | undefined;
  private closed = false;

  /** @internal */
  constructor(private raw: RawAPI & RawAggregateAPI, private h: number, readonly collection: string, readonly spec: AggregateSpec) {
    const initial = raw.agGroups(h).map(freeze);
    this.groupsSig = new Mutable(initial);
    this.countSig = new Mutable(total(initial));
    let first = true;
    this.sub = raw.agSubscribe(h, (cs) => {
      const groups = cs.groups.map(freeze);
      const out: GroupChangeSet = { changes: cs.changes.map((c) => ({ kind: c.kind, group: freeze(c.group) })), groups };
      if (first) {
        first = false; // the Initial set: groups were already read
        if (out.changes.every((c) => c.kind === "Initial")) return;
      }
      this.groupsSig.set(groups);
      const n = total(groups);
      if (n !== this.countSig.get()) this.countSig.set(n);
      for (const f of [...this.listeners]) f(out);
    });
  }

  /** The current groups, ordered by key. */
  get groups(): Group[] {
    return this.groupsSig.get();
  }

  /** The groups as a signal. */
  get signal(): Signal<Group[]> {
    return this.groupsSig;
  }

  /** The number of rows in all groups. */
  get count(): number {
    return this.countSig.get();
  }

  /** The number of rows as a signal. */
  get countSignal(): Signal<number> {
    return this.countSig;
  }

  /** Why the durable node stopped keeping the aggregate current (null while it does). */
  error(): AnkurahError | null {
    return this.raw.agError(this.h);
  }

  /** Calls f whenever groups change. */
  subscribe(f: (cs: GroupChangeSet) => void): () => void {
    this.listeners.add(f);
    return () => {
      this.listeners.delete(f);
    };
  }

  /** Stops the aggregate. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sub !== undefined) this.raw.unsubscribe(this.sub);
    this.raw.agClose(this.h);
    this.listeners.clear();
  }
}

/** @internal */
export async function openAggregate(raw: RawAPI, collection: string, spec: AggregateSpec, query: string, args: Value[]): Promise<LiveAggregate> {
  const r = raw as RawAPI & RawAggregateAPI;
  const h = await r.aggregate(collection, query, args, spec.groupBy ?? [], spec.aggs ?? []);
  return new LiveAggregate(r, h, collection, spec);
}
