import { model } from "@ankurah/client";
import { type Album as GenAlbum, AlbumCollection } from "./ankurah_gen.ts";

/**
 * An album record. notes is a text.Text field in the Go model (ankurah-gen
 * types plugin datatypes as unknown); it reads as a string, unset until first
 * edited, and is edited through Mut.text("notes").
 */
export type AlbumRecord = Omit<GenAlbum, "notes"> & { notes?: string };
/** Typed access to the album collection: Album.query(client, "year > ?", 1985). */
export const Album = model<AlbumRecord>(AlbumCollection);
