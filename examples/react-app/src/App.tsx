import { useEffect, useState } from "react";
import { isAnkurahError, type Client, type Entity } from "@ankurah/client";
import { AnkurahProvider, useClient, useEntity, useQuery, useSignal } from "@ankurah/react";
import { Album, type AlbumRecord } from "./models.ts";
import { NotesField } from "./NotesField.tsx";

export function App({ client }: { client: Client }) {
  return (
    <AnkurahProvider client={client}>
      <Albums />
    </AnkurahProvider>
  );
}

function Albums() {
  const client = useClient();
  const [minYear, setMinYear] = useState(0);
  const [error, setError] = useState<string>();
  const { items, liveQuery, error: qerr } = useQuery(Album, "year >= ? ORDER BY year, name", minYear);

  useEffect(() => {
    if (liveQuery) performance.mark("ankurah-first-result");
  }, [liveQuery]);

  const report = (e: unknown) => setError(e instanceof Error ? (isAnkurahError(e) ? `${e.code}: ${e.message}` : e.message) : String(e));

  return (
    <main style={{ fontFamily: "system-ui, sans-serif", maxWidth: 720, margin: "2rem auto" }}>
      <header style={{ display: "flex", justifyContent: "space-between", alignItems: "center" }}>
        <h1>Albums</h1>
        <ConnectionBadge client={client} />
      </header>
      <AddAlbum client={client} onError={report} />
      <label>
        Released in or after{" "}
        <input
          data-testid="min-year"
          type="number"
          value={minYear}
          onChange={(e) => setMinYear(Number(e.target.value) || 0)}
          style={{ width: "6em" }}
        />
      </label>
      {(error || qerr) && (
        <p role="alert" style={{ color: "crimson" }}>
          {error ?? qerr?.message}
        </p>
      )}
      <p data-testid="count">
        {liveQuery ? `${items.length} album${items.length === 1 ? "" : "s"}` : "loading…"}
      </p>
      <ul data-testid="albums" style={{ listStyle: "none", padding: 0 }}>
        {items.map((a) => (
          <AlbumRow key={a.id} client={client} album={a} onError={report} />
        ))}
      </ul>
    </main>
  );
}

function ConnectionBadge({ client }: { client: Client }) {
  const state = useSignal(client.connection);
  const color = state === "connected" ? "seagreen" : state === "connecting" ? "darkorange" : "gray";
  return (
    <span data-testid="connection" data-state={state} style={{ color }}>
      ● {state}
    </span>
  );
}

function AddAlbum({ client, onError }: { client: Client; onError: (e: unknown) => void }) {
  const [name, setName] = useState("");
  const [artist, setArtist] = useState("");
  const [year, setYear] = useState("");
  const add = async (e: React.FormEvent) => {
    e.preventDefault();
    try {
      await client.transaction((trx) => {
        Album.create(trx, { name, artist, year: Number(year) || 0 });
      });
      setName("");
      setArtist("");
      setYear("");
    } catch (err) {
      onError(err);
    }
  };
  return (
    <form onSubmit={add} style={{ display: "flex", gap: "0.5rem", margin: "1rem 0" }}>
      <input data-testid="new-name" placeholder="Name" value={name} onChange={(e) => setName(e.target.value)} required />
      <input data-testid="new-artist" placeholder="Artist" value={artist} onChange={(e) => setArtist(e.target.value)} />
      <input data-testid="new-year" placeholder="Year" value={year} onChange={(e) => setYear(e.target.value)} style={{ width: "5em" }} />
      <button data-testid="add" type="submit">
        Add
      </button>
    </form>
  );
}

function AlbumRow({ client, album, onError }: { client: Client; album: Entity<AlbumRecord>; onError: (e: unknown) => void }) {
  const current = useEntity(album) ?? album;
  const [draft, setDraft] = useState<string>();
  const save = async () => {
    if (draft === undefined) return;
    try {
      await client.transaction(async (trx) => {
        (await Album.edit(trx, album.id)).set({ name: draft });
      });
      setDraft(undefined);
    } catch (err) {
      onError(err);
    }
  };
  const remove = async () => {
    try {
      await client.transaction((trx) => trx.delete(Album.collection, album.id));
    } catch (err) {
      onError(err);
    }
  };
  const v = current.values;
  return (
    <li data-testid="album" data-name={v.name} data-notes={v.notes ?? ""} style={{ padding: "0.25rem 0" }}>
      <div style={{ display: "flex", gap: "0.5rem" }}>
        <span style={{ width: "4em" }}>{v.year}</span>
        {draft === undefined ? (
          <span data-testid="album-name" style={{ flex: 1 }} onDoubleClick={() => setDraft(v.name)}>
            <strong>{v.name}</strong> {v.artist && <>— {v.artist}</>}
          </span>
        ) : (
          <input
            data-testid="edit-name"
            autoFocus
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e) => e.key === "Enter" && save()}
            style={{ flex: 1 }}
          />
        )}
        {draft === undefined ? (
          <button data-testid="edit" onClick={() => setDraft(v.name)}>
            Rename
          </button>
        ) : (
          <button data-testid="save" onClick={save}>
            Save
          </button>
        )}
        <button data-testid="delete" onClick={remove}>
          Delete
        </button>
      </div>
      <NotesField
        client={client}
        collection={Album.collection}
        id={album.id}
        property="notes"
        value={v.notes ?? ""}
        onError={onError}
        testId="notes"
      />
    </li>
  );
}
