import { useEffect, useMemo, useRef, useState } from "react";
import { isAnkurahError, type Client, type Entity, type QueryOptions } from "@ankurah/client";
import { AnkurahProvider, useClient, useCount, useEntity, useGroups, useQuery, useQueryOptions, useSignal } from "@ankurah/react";
import { Album, Artist, type AlbumRecord, type ArtistRecord } from "./models.ts";
import type { Ref } from "./ankurah_gen.ts";
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

/** Each album's artist is delivered with the albums and kept current (docs/relations.md). */
const withArtist: QueryOptions = { include: ["artist"] };
const byArtistSpec = { groupBy: ["artist"] };

function Albums() {
  const client = useClient();
  const [minYear, setMinYear] = useState(0);
  const [artistFilter, setArtistFilter] = useState("");
  const [error, setError] = useState<string>();
  const artistName = artistFilter.trim();
  // The artist filter follows each album's reference: an album moves in or
  // out of the list when its artist is renamed, wherever that happens.
  const [query, args] = artistName
    ? ["year >= ? AND artist.name = ? ORDER BY year, name", [minYear, artistName]]
    : ["year >= ? ORDER BY year, name", [minYear]];
  const { items, included, liveQuery, error: qerr } = useQueryOptions(Album, withArtist, query, ...args);
  const artistNames = useMemo(() => new Map((included.artist ?? []).map((e) => [e.id, String(e.values.name ?? "")])), [included]);
  const artists = useQuery(Artist, "true ORDER BY name").items as Entity<ArtistRecord>[];
  // A live COUNT kept by the server (docs/aggregates.md): every album, whatever the filter.
  const total = useCount("album", "true");
  // And one per artist: a live GROUP BY of the albums by their artist reference.
  const { groups } = useGroups("album", byArtistSpec, "true");
  const albumsBy = useMemo(() => new Map(groups.map((g) => [String(g.key[0]), g.count])), [groups]);

  useEffect(() => {
    if (liveQuery) performance.mark("ankurah-first-result");
  }, [liveQuery]);

  const report = (e: unknown) => setError(describe(e));
  const shown = error ?? qerr?.message;
  // The album deleted last, which the toast offers to bring back.
  const [deleted, setDeleted] = useState<{ id: string; name: string; seq: number }>();
  const seq = useRef(0);

  return (
    <main className="app">
      <header className="app-header">
        <h1>Albums</h1>
        <ConnectionBadge client={client} />
      </header>
      <AddAlbum client={client} artists={artists} />
      <datalist id="artist-names">
        {artists.map((a) => (
          <option key={a.id} value={a.values.name} />
        ))}
      </datalist>
      <div className="toolbar">
        <div className="filters">
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
          <label className="filter filter-artist">
            Artist
            <input
              data-testid="artist-filter"
              type="search"
              list="artist-names"
              placeholder="any"
              value={artistFilter}
              onChange={(e) => setArtistFilter(e.target.value)}
              autoComplete="off"
            />
          </label>
        </div>
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
          <AlbumRow
            key={a.id}
            client={client}
            album={a}
            artistNames={artistNames}
            onError={report}
            onDeleted={(id, name) => setDeleted({ id, name, seq: ++seq.current })}
          />
        ))}
      </ul>
      {liveQuery && items.length === 0 && <p className="empty">{emptyMessage(minYear, artistName)}</p>}
      <Artists client={client} artists={artists} albumsBy={albumsBy} filter={artistName} onFilter={setArtistFilter} onError={report} />
      {deleted && (
        <UndoDelete
          key={deleted.seq}
          client={client}
          id={deleted.id}
          name={deleted.name}
          onError={report}
          onDone={() => setDeleted((d) => (d?.seq === deleted.seq ? undefined : d))}
        />
      )}
    </main>
  );
}

function emptyMessage(minYear: number, artist: string): string {
  if (artist) return minYear > 0 ? `No albums by ${artist} from ${minYear} or later.` : `No albums by ${artist}.`;
  return minYear > 0 ? `No albums from ${minYear} or later.` : "No albums yet. Add the first one above.";
}

/**
 * The artists, each with a live count of its albums; a name shows that
 * artist's albums, and Rename renames the artist for every album (and every
 * client) at once.
 */
function Artists({
  client,
  artists,
  albumsBy,
  filter,
  onFilter,
  onError,
}: {
  client: Client;
  artists: Entity<ArtistRecord>[];
  albumsBy: Map<string, number>;
  filter: string;
  onFilter: (name: string) => void;
  onError: (e: unknown) => void;
}) {
  if (artists.length === 0) return null;
  return (
    <section className="artists" aria-labelledby="artists-heading">
      <h2 id="artists-heading">Artists</h2>
      <ul data-testid="artists" className="artist-list">
        {artists.map((a) => (
          <ArtistRow
            key={a.id}
            client={client}
            artist={a}
            albums={albumsBy.get(a.id) ?? 0}
            selected={a.values.name === filter}
            onFilter={onFilter}
            onError={onError}
          />
        ))}
      </ul>
    </section>
  );
}

function ArtistRow({
  client,
  artist,
  albums,
  selected,
  onFilter,
  onError,
}: {
  client: Client;
  artist: Entity<ArtistRecord>;
  albums: number;
  selected: boolean;
  onFilter: (name: string) => void;
  onError: (e: unknown) => void;
}) {
  const name = artist.values.name;
  const [draft, setDraft] = useState<string>();
  const save = async () => {
    if (draft === undefined) return;
    const next = draft.trim();
    setDraft(undefined);
    if (!next || next === name) return;
    try {
      await client.transaction(async (trx) => {
        (await Artist.edit(trx, artist.id)).set({ name: next });
      });
    } catch (err) {
      onError(err);
    }
  };
  return (
    <li data-testid="artist" data-name={name} data-albums={albums} className={`artist${selected ? " is-selected" : ""}`}>
      {draft === undefined ? (
        <>
          <button type="button" className="link artist-name" data-testid="show-artist" aria-pressed={selected} onClick={() => onFilter(selected ? "" : name)}>
            {name}
          </button>
          <span className="artist-albums" data-testid="artist-albums">
            {albums} album{albums === 1 ? "" : "s"}
          </span>
          <button type="button" data-testid="rename-artist" onClick={() => setDraft(name)} aria-label={`Rename ${name}`}>
            Rename
          </button>
        </>
      ) : (
        <>
          <label className="visually-hidden" htmlFor={`artist-${artist.id}-edit`}>
            New name for {name}
          </label>
          <input
            id={`artist-${artist.id}-edit`}
            data-testid="artist-name-edit"
            autoFocus
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                void save();
              } else if (e.key === "Escape") {
                e.preventDefault();
                setDraft(undefined);
              }
            }}
          />
          <button type="button" className="primary" data-testid="save-artist" onClick={save}>
            Save
          </button>
          <button type="button" data-testid="cancel-artist" onClick={() => setDraft(undefined)}>
            Cancel
          </button>
        </>
      )}
    </li>
  );
}

/**
 * The connection state in words. Once the app has lost its server it says
 * so until it is back (the client alternates between "connecting" and
 * "disconnected" while it retries), and tells the user that what they do
 * meanwhile is kept: commits are stored locally with their outbox record and
 * sent on reconnection. The live counts are kept by the server, so offline
 * they stay as they were (an album added offline is listed, not yet counted).
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
      {kind === "offline" && <span className="connection-note">Your edits are saved on this device and will sync when the connection is back. Counts are as of the last sync.</span>}
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

/** What the form adds: an album, by the name of its artist ("" for none). */
interface NewAlbum {
  name: string;
  artist: string;
  year: number;
}

/** Checks the form; returns the album to add or what is wrong with it. */
function validate(f: Fields): NewAlbum | Problem {
  const name = f.name.trim();
  if (!name) return { field: "name", message: "Give the album a name." };
  const year = f.year.trim();
  if (!year) return { field: "year", message: "Enter the year it came out, like 1997." };
  if (!/^[1-9][0-9]{0,3}$/.test(year)) return { field: "year", message: `“${year}” is not a year. Enter a number like 1997.` };
  return { name, artist: f.artist.trim(), year: Number(year) };
}

/**
 * The artist named name: one the live list holds, else one the server knows
 * (a fetch asks it when connected and reads the local cache when not), else
 * a new one (its id is known once the creation commits, at once while
 * offline). Two clients adding an unknown name at the same moment each
 * create an artist of that name.
 */
async function artistNamed(client: Client, artists: Entity<ArtistRecord>[], name: string): Promise<Ref<ArtistRecord> | null> {
  if (!name) return null;
  const known = artists.find((a) => a.values.name === name) ?? (await Artist.fetch(client, "name = ?", name))[0];
  if (known) return known.id as Ref<ArtistRecord>;
  const trx = client.begin();
  Artist.create(trx, { name });
  const [id] = await trx.commit();
  return (id as Ref<ArtistRecord>) ?? null;
}

function AddAlbum({ client, artists }: { client: Client; artists: Entity<ArtistRecord>[] }) {
  const known = useRef(artists);
  known.current = artists;
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
    artistNamed(client, known.current, rec.artist)
      .then((artist) =>
        client.transaction((trx) => {
          Album.create(trx, { name: rec.name, artist, year: rec.year });
        }),
      )
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
        <input id="new-artist" ref={refs.artist} data-testid="new-artist" list="artist-names" value={fields.artist} onChange={set("artist")} autoComplete="off" />
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

/** How long the toast after a delete offers Undo (paused while the pointer is on it). */
const undoMillis = 8000;

/**
 * "Deleted “name” — Undo": for undoMillis after a delete, Undo restores the
 * album (Transaction.restore: the same id, values and history, on every
 * device). It takes focus, as the row whose button had it is gone (Enter
 * undoes, Escape closes); the time stops while the pointer is on it.
 */
function UndoDelete({ client, id, name, onError, onDone }: { client: Client; id: string; name: string; onError: (e: unknown) => void; onDone: () => void }) {
  const [pointed, setPointed] = useState(false);
  const [busy, setBusy] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  // The latest onDone, so the parent's renders (every live update) do not restart the time.
  const done = useRef(onDone);
  done.current = onDone;
  useEffect(() => button.current?.focus(), []);
  useEffect(() => {
    if (pointed || busy) return;
    const t = setTimeout(() => done.current(), undoMillis);
    return () => clearTimeout(t);
  }, [pointed, busy]);
  const undo = async () => {
    setBusy(true);
    try {
      await client.transaction(async (trx) => {
        await trx.restore(Album.collection, id);
      });
    } catch (err) {
      onError(err);
    }
    onDone();
  };
  return (
    <div
      className="toast"
      role="status"
      data-testid="undo-toast"
      onMouseEnter={() => setPointed(true)}
      onMouseLeave={() => setPointed(false)}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          onDone();
        }
      }}
    >
      <span>
        Deleted <strong>{name}</strong>
      </span>
      <button ref={button} data-testid="undo" className="toast-action" onClick={undo} disabled={busy} aria-label={`Undo: restore ${name}`}>
        Undo
      </button>
      <button data-testid="dismiss-undo" className="toast-close" onClick={onDone} aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}

function AlbumRow({
  client,
  album,
  artistNames,
  onError,
  onDeleted,
}: {
  client: Client;
  album: Entity<AlbumRecord>;
  artistNames: Map<string, string>;
  onError: (e: unknown) => void;
  onDeleted: (id: string, name: string) => void;
}) {
  const current = useEntity(album) ?? album;
  const v = current.values;
  const artist = v.artist ? (artistNames.get(v.artist) ?? "") : "";
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
      onDeleted(album.id, v.name);
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
    <li data-testid="album" data-name={v.name} data-artist={artist} data-notes={v.notes ?? ""} className="album">
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
            {artist && (
              <span className="album-artist" data-testid="album-artist">
                {artist}
              </span>
            )}
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
