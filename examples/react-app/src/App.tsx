import { useEffect, useRef, useState } from "react";
import { isAnkurahError, type Client, type Entity } from "@ankurah/client";
import { AnkurahProvider, useClient, useCount, useEntity, useQuery, useSignal } from "@ankurah/react";
import { Album, type AlbumRecord } from "./models.ts";
import { NotesField } from "./NotesField.tsx";

export function App({ client }: { client: Client }) {
  return (
    <AnkurahProvider client={client}>
      <Albums />
    </AnkurahProvider>
  );
}

/** A user-facing sentence for an error from the client. */
function describe(e: unknown): string {
  if (e instanceof Error) return isAnkurahError(e) ? `${e.code}: ${e.message}` : e.message;
  return String(e);
}

function Albums() {
  const client = useClient();
  const [minYear, setMinYear] = useState(0);
  const [error, setError] = useState<string>();
  const { items, liveQuery, error: qerr } = useQuery(Album, "year >= ? ORDER BY year, name", minYear);
  // A live COUNT kept by the server (docs/aggregates.md): every album, whatever the filter.
  const total = useCount("album", "true");

  useEffect(() => {
    if (liveQuery) performance.mark("ankurah-first-result");
  }, [liveQuery]);

  const report = (e: unknown) => setError(describe(e));
  const shown = error ?? qerr?.message;

  return (
    <main className="app">
      <header className="app-header">
        <h1>Albums</h1>
        <ConnectionBadge client={client} />
      </header>
      <AddAlbum client={client} />
      <div className="toolbar">
        <label className="filter">
          Released in or after
          <input
            data-testid="min-year"
            type="number"
            inputMode="numeric"
            value={minYear}
            onChange={(e) => setMinYear(Number(e.target.value) || 0)}
          />
        </label>
        <p data-testid="count" className="count" aria-live="polite">
          {liveQuery ? `${items.length} album${items.length === 1 ? "" : "s"}` : "Loading…"}
        </p>
        <p data-testid="total" data-total={total} className="count">
          {total} in all
        </p>
      </div>
      {shown && (
        <div role="alert" className="banner banner-error">
          <span>{shown}</span>
          {error && (
            <button type="button" className="link" onClick={() => setError(undefined)}>
              Dismiss
            </button>
          )}
        </div>
      )}
      <ul data-testid="albums" className="albums">
        {items.map((a) => (
          <AlbumRow key={a.id} client={client} album={a} onError={report} />
        ))}
      </ul>
      {liveQuery && items.length === 0 && (
        <p className="empty">{minYear > 0 ? `No albums from ${minYear} or later.` : "No albums yet. Add the first one above."}</p>
      )}
    </main>
  );
}

/**
 * The connection state in words. Once the app has lost its server it says
 * so until it is back (the client alternates between "connecting" and
 * "disconnected" while it retries), and tells the user that what they do
 * meanwhile is kept: commits are stored locally with their outbox record and
 * sent on reconnection.
 */
function ConnectionBadge({ client }: { client: Client }) {
  const state = useSignal(client.connection);
  const everConnected = useRef(false);
  const lost = useRef(false);
  if (state === "connected") {
    everConnected.current = true;
    lost.current = false;
  } else if (state !== "connecting" || everConnected.current) {
    lost.current = true;
  }
  const kind = state === "connected" ? "online" : lost.current ? "offline" : "connecting";
  return (
    <div data-testid="connection" data-state={state} className={`connection connection-${kind}`} role="status">
      <span className="pill">
        <span className="dot" aria-hidden="true" />
        {label(kind)}
      </span>
      {kind === "offline" && <span className="connection-note">Your edits are saved on this device and will sync when the connection is back.</span>}
    </div>
  );
}

function label(kind: "online" | "offline" | "connecting"): string {
  return kind === "online" ? "Online" : kind === "offline" ? "Offline" : "Connecting…";
}

interface Fields {
  name: string;
  artist: string;
  year: string;
}
const noFields: Fields = { name: "", artist: "", year: "" };

interface Problem {
  field: keyof Fields | "save";
  message: string;
}

/** Checks the form; returns the record to create or what is wrong with it. */
function validate(f: Fields): AlbumRecord | Problem {
  const name = f.name.trim();
  if (!name) return { field: "name", message: "Give the album a name." };
  const year = f.year.trim();
  if (!year) return { field: "year", message: "Enter the year it came out, like 1997." };
  if (!/^[1-9][0-9]{0,3}$/.test(year)) return { field: "year", message: `“${year}” is not a year. Enter a number like 1997.` };
  return { name, artist: f.artist.trim(), year: Number(year) };
}

function AddAlbum({ client }: { client: Client }) {
  const [fields, setFields] = useState<Fields>(noFields);
  const [problem, setProblem] = useState<Problem>();
  const refs = {
    name: useRef<HTMLInputElement>(null),
    artist: useRef<HTMLInputElement>(null),
    year: useRef<HTMLInputElement>(null),
  };
  const set = (k: keyof Fields) => (e: React.ChangeEvent<HTMLInputElement>) => {
    const value = e.target.value;
    setFields((f) => ({ ...f, [k]: value }));
    if (problem?.field === k) setProblem(undefined);
  };

  const add = (e: React.FormEvent) => {
    e.preventDefault();
    const rec = validate(fields);
    if ("field" in rec) {
      setProblem(rec);
      if (rec.field !== "save") refs[rec.field].current?.focus();
      return;
    }
    // The form is free for the next album at once, not when the commit
    // completes (a round trip later): what the user types meanwhile is theirs.
    setProblem(undefined);
    setFields(noFields);
    refs.name.current?.focus();
    client
      .transaction((trx) => {
        Album.create(trx, rec);
      })
      .catch((err: unknown) => {
        setProblem({ field: "save", message: `“${rec.name}” was not saved: ${describe(err)}` });
        // Put it back unless the user has started on another album.
        setFields((f) => (f.name || f.artist || f.year ? f : { name: rec.name, artist: rec.artist, year: String(rec.year) }));
      });
  };

  const invalid = (k: keyof Fields) => (problem?.field === k ? { "aria-invalid": true, "aria-describedby": "add-error" } : {});
  return (
    <form className="add-form" onSubmit={add} noValidate aria-label="Add an album">
      <div className="field field-name">
        <label htmlFor="new-name">Name</label>
        <input id="new-name" ref={refs.name} data-testid="new-name" value={fields.name} onChange={set("name")} autoComplete="off" {...invalid("name")} />
      </div>
      <div className="field field-artist">
        <label htmlFor="new-artist">Artist</label>
        <input id="new-artist" ref={refs.artist} data-testid="new-artist" value={fields.artist} onChange={set("artist")} autoComplete="off" />
      </div>
      <div className="field field-year">
        <label htmlFor="new-year">Year</label>
        <input
          id="new-year"
          ref={refs.year}
          data-testid="new-year"
          inputMode="numeric"
          value={fields.year}
          onChange={set("year")}
          autoComplete="off"
          {...invalid("year")}
        />
      </div>
      <button data-testid="add" type="submit" className="primary add-button">
        Add
      </button>
      <p id="add-error" data-testid="add-error" className="field-error" role="alert">
        {problem?.message}
      </p>
    </form>
  );
}

function AlbumRow({ client, album, onError }: { client: Client; album: Entity<AlbumRecord>; onError: (e: unknown) => void }) {
  const current = useEntity(album) ?? album;
  const v = current.values;
  const [draft, setDraft] = useState<string>();
  const [renameError, setRenameError] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const renameButton = useRef<HTMLButtonElement>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const refocus = useRef<"rename" | "delete">(undefined);

  // After an edit or a confirmation closes, focus goes back to the button that opened it.
  useEffect(() => {
    if (draft !== undefined || confirming || !refocus.current) return;
    (refocus.current === "rename" ? renameButton : deleteButton).current?.focus();
    refocus.current = undefined;
  }, [draft, confirming]);

  const startRename = () => {
    setConfirming(false);
    setRenameError(undefined);
    setDraft(v.name);
  };
  const cancelRename = () => {
    refocus.current = "rename";
    setRenameError(undefined);
    setDraft(undefined);
  };
  const save = async () => {
    if (draft === undefined) return;
    const name = draft.trim();
    if (!name) {
      setRenameError("The name can’t be empty. Type a name, or press Cancel to keep “" + v.name + "”.");
      return;
    }
    refocus.current = "rename";
    setRenameError(undefined);
    setDraft(undefined);
    if (name === v.name) return;
    try {
      await client.transaction(async (trx) => {
        (await Album.edit(trx, album.id)).set({ name });
      });
    } catch (err) {
      setDraft(name);
      setRenameError(`The new name was not saved: ${describe(err)}`);
    }
  };
  const remove = async () => {
    setConfirming(false);
    try {
      await client.transaction((trx) => trx.delete(Album.collection, album.id));
    } catch (err) {
      onError(err);
    }
  };
  const keep = () => {
    refocus.current = "delete";
    setConfirming(false);
  };

  const editing = draft !== undefined;
  const nameId = `album-${album.id}-name`;
  return (
    <li data-testid="album" data-name={v.name} data-notes={v.notes ?? ""} className="album">
      <div className={`album-head${editing ? " is-editing" : ""}`}>
        <span className="album-year">{v.year}</span>
        {editing ? (
          <div className="album-title">
            <label className="visually-hidden" htmlFor={`${nameId}-edit`}>
              New name for {v.name}
            </label>
            <input
              id={`${nameId}-edit`}
              data-testid="edit-name"
              autoFocus
              value={draft}
              aria-invalid={renameError ? true : undefined}
              aria-describedby={renameError ? `${nameId}-error` : undefined}
              onChange={(e) => {
                setDraft(e.target.value);
                setRenameError(undefined);
              }}
              onKeyDown={(e) => {
                // preventDefault: focus returns to Rename at once, and the
                // same key must not press it.
                if (e.key === "Enter") {
                  e.preventDefault();
                  void save();
                } else if (e.key === "Escape") {
                  e.preventDefault();
                  cancelRename();
                }
              }}
            />
          </div>
        ) : (
          <div className="album-title" data-testid="album-name" onDoubleClick={startRename}>
            <strong>{v.name}</strong>
            {v.artist && <span className="album-artist">{v.artist}</span>}
          </div>
        )}
        <div className="album-actions">
          {editing ? (
            <>
              <button data-testid="save" className="primary" onClick={save}>
                Save
              </button>
              <button data-testid="cancel-edit" onClick={cancelRename}>
                Cancel
              </button>
            </>
          ) : confirming ? (
            <div className="confirm" role="group" aria-label={`Delete ${v.name}?`} onKeyDown={(e) => {
                if (e.key === "Escape") {
                  e.preventDefault();
                  keep();
                }
              }}
            >
              <span className="confirm-question">Delete this album?</span>
              <button data-testid="confirm-delete" className="danger" onClick={remove}>
                Delete
              </button>
              <button data-testid="cancel-delete" autoFocus onClick={keep}>
                Keep
              </button>
            </div>
          ) : (
            <>
              <button data-testid="edit" ref={renameButton} onClick={startRename} aria-label={`Rename ${v.name}`}>
                Rename
              </button>
              <button
                data-testid="delete"
                ref={deleteButton}
                className="danger-quiet"
                onClick={() => {
                  setConfirming(true);
                }}
                aria-label={`Delete ${v.name}`}
              >
                Delete
              </button>
            </>
          )}
        </div>
        {renameError && (
          <p id={`${nameId}-error`} data-testid="edit-error" className="field-error album-error" role="alert">
            {renameError}
          </p>
        )}
      </div>
      <NotesField
        client={client}
        collection={Album.collection}
        id={album.id}
        property="notes"
        value={v.notes ?? ""}
        label={`Notes on ${v.name}`}
        onError={onError}
        testId="notes"
      />
    </li>
  );
}
