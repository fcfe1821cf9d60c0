import { model, type Client } from "@ankurah/client";
import {
  type Album as GenAlbum,
  type Artist as GenArtist,
  AlbumCollection,
  AlbumRelations,
  ArtistCollection,
} from "./ankurah_gen.ts";

/**
 * An album record. notes is a text.Text field in the Go model (ankurah-gen
 * types plugin datatypes as unknown); it reads as a string, unset until first
 * edited, and is edited through Mut.text("notes"). artist is the id of the
 * album's artist (a core.Ref[Artist] field), or null.
 */
export type AlbumRecord = Omit<GenAlbum, "notes"> & { notes?: string };
/** An artist record: albums refer to it by id. */
export type ArtistRecord = GenArtist;
/** Typed access to the album collection: Album.query(client, "year > ?", 1985). */
export const Album = model<AlbumRecord>(AlbumCollection);
/** Typed access to the artist collection. */
export const Artist = model<ArtistRecord>(ArtistCollection);

/**
 * Declares the models' references on the client (album.artist → artist), so
 * that `artist.name = ?` on albums follows each album's artist and
 * `{ include: ["artist"] }` delivers it. The server declares the same
 * (`ankurah serve --models examples/react-app/model`).
 */
export function declareRelations(client: Client): void {
  client.declareRelations(
    Object.entries(AlbumRelations).map(([property, target]) => ({ collection: AlbumCollection, property, target })),
  );
}
