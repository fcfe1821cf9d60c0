import { model } from "@ankurah/client";
import { type Album as AlbumRecord, AlbumCollection } from "./ankurah_gen.ts";

export type { AlbumRecord };
/** Typed access to the album collection: Album.query(client, "year > ?", 1985). */
export const Album = model<AlbumRecord>(AlbumCollection);
