// A textarea bound to a collaborative text property (a text.Text field).
//
// Every change the user makes becomes one small edit (the common prefix and
// suffix of the old and new value give one delete and one insert), committed
// in its own transaction, so edits made at the same time in other browsers
// merge with it instead of one value overwriting the other. Edits are
// applied in order, each rebased onto the text as the node has it then
// (which may hold remote edits the textarea has not shown yet). While edits
// are waiting the textarea keeps the user's value; once none are, it follows
// the live value, keeping the caret next to the same text.
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { Client } from "@ankurah/client";

/** One change as code point positions: replace del code points at pos of the old text with ins. */
export interface Delta {
  pos: number;
  del: number;
  ins: string;
}

/** The single change that turns a into b: everything between their common prefix and suffix (code points). */
export function diff(a: string, b: string): Delta {
  const x = Array.from(a);
  const y = Array.from(b);
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let q = 0;
  while (q < x.length - p && q < y.length - p && x[x.length - 1 - q] === y[y.length - 1 - q]) q++;
  return { pos: p, del: x.length - p - q, ins: y.slice(p, y.length - q).join("") };
}

/** Where position i of the old text of d lands in its new text (inside the changed part: after the insertion). */
function mapPos(d: Delta, i: number): number {
  if (i <= d.pos) return i;
  const insLen = Array.from(d.ins).length;
  if (i >= d.pos + d.del) return i - d.del + insLen;
  return d.pos + insLen;
}

/** Rebases change c, made on text from, onto text to. */
export function rebase(c: Delta, from: string, to: string): Delta {
  if (from === to) return c;
  const d = diff(from, to);
  const pos = mapPos(d, c.pos);
  const end = Math.max(pos, mapPos(d, c.pos + c.del));
  return { pos, del: end - pos, ins: c.ins };
}

/** Moves a UTF-16 caret index of text from to the matching place in text to. */
function moveCaret(from: string, to: string, i: number): number {
  let p = 0;
  while (p < from.length && p < to.length && from[p] === to[p]) p++;
  let q = 0;
  while (q < from.length - p && q < to.length - p && from[from.length - 1 - q] === to[to.length - 1 - q]) q++;
  if (i <= p) return i;
  if (i >= from.length - q) return i + to.length - from.length;
  return to.length - q;
}

interface Props {
  client: Client;
  collection: string;
  id: string;
  property: string;
  /** The property's live value. */
  value: string;
  /** The textarea's accessible name. */
  label: string;
  onError: (e: unknown) => void;
  testId?: string;
}

export function NotesField({ client, collection, id, property, value, label, onError, testId }: Props) {
  const [shown, setShown] = useState(value);
  const shownRef = useRef(value); // what the textarea shows, without waiting for a render
  const queue = useRef<{ from: string; to: string }[]>([]);
  const running = useRef(false);
  const live = useRef(value); // the latest value the node reported
  const caret = useRef<[number, number] | null>(null);
  const el = useRef<HTMLTextAreaElement>(null);

  // Shows text, keeping the caret (if focused) next to the same characters.
  const show = (text: string) => {
    if (text === shownRef.current) return;
    const t = el.current;
    if (t && document.activeElement === t) {
      caret.current = [moveCaret(shownRef.current, text, t.selectionStart), moveCaret(shownRef.current, text, t.selectionEnd)];
    }
    shownRef.current = text;
    setShown(text);
  };

  useLayoutEffect(() => {
    const c = caret.current;
    if (c && el.current) {
      el.current.setSelectionRange(c[0], c[1]);
      caret.current = null;
    }
  }, [shown]);

  // Follow the live value whenever no local edit is waiting.
  useEffect(() => {
    live.current = value;
    if (!running.current && queue.current.length === 0) show(value);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);

  const drain = async () => {
    if (running.current) return;
    running.current = true;
    try {
      while (queue.current.length > 0) {
        const { from, to } = queue.current[0]!;
        await client.transaction(async (trx) => {
          const t = (await trx.edit(collection, id)).text(property);
          const d = rebase(diff(from, to), from, t.value());
          t.splice(d.pos, d.del, d.ins);
        });
        queue.current.shift();
      }
      // The text with every edit so far, however the live query's update
      // and this commit's resolution were ordered.
      const fresh = await client.get(collection, id);
      live.current = typeof fresh.values[property] === "string" ? (fresh.values[property] as string) : "";
    } catch (e) {
      queue.current = [];
      onError(e);
    } finally {
      running.current = false;
    }
    if (queue.current.length > 0) void drain();
    else show(live.current);
  };

  return (
    <textarea
      ref={el}
      data-testid={testId}
      value={shown}
      rows={2}
      placeholder="Notes"
      aria-label={label}
      className="notes"
      onChange={(e) => {
        const to = e.target.value;
        queue.current.push({ from: shownRef.current, to });
        shownRef.current = to;
        setShown(to);
        void drain();
      }}
    />
  );
}
