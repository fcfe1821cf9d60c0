/** A value that changes over time: what React's useSyncExternalStore reads. */
export interface Signal<T> {
  /** The current value (the same object until it changes). */
  get(): T;
  /** Calls f after every change until the returned function is called. */
  subscribe(f: (v: T) => void): () => void;
}

/** A Signal you set. */
export class Mutable<T> implements Signal<T> {
  private subs = new Set<(v: T) => void>();
  constructor(private value: T) {}
  get(): T {
    return this.value;
  }
  set(v: T): void {
    this.value = v;
    for (const f of [...this.subs]) f(v);
  }
  subscribe(f: (v: T) => void): () => void {
    this.subs.add(f);
    return () => {
      this.subs.delete(f);
    };
  }
}
