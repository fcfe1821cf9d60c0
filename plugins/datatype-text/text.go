// Package text is a collaborative text datatype for ankurah: a YATA sequence
// CRDT whose updates and state are Yjs update v1 bytes (lib0 varints, struct
// encoding, delete sets, state vectors), so npm yjs applies this package's
// updates and this package applies Yjs's.
//
// Doc is the CRDT: root-level texts by name, local edits (Insert, Delete),
// updates out (TakeUpdate, EncodeStateAsUpdate, EncodeDiff) and in
// (ApplyUpdate). Positions and lengths in the Go API count Unicode code
// points; Yjs counts UTF-16 code units, and the translation happens inside.
// Structs whose dependencies have not arrived wait in the Doc and are
// integrated when they do, so updates apply in any order, any number of
// times.
//
// Backend is the property backend registered as "text": one Doc per entity,
// one text per property. Text is the model field type; its Mut and View
// handles edit and read one property.
//
// Local edits choose their neighbours as Y.Text does (an insert after deleted
// text goes after the tombstones), so the updates of an edit are the bytes
// Yjs makes for the same edit under the same client id (in text without
// formatting marks or embeds, which this package keeps but does not
// interpret).
//
// Items hold runs of text and are split on demand; the list of items is cut
// into blocks that count visible code points, with a cursor kept from the
// previous lookup, so an edit does not walk the text from its start. Runs of
// tombstones merge, as in Yjs. Structs and deletions that wait for what they
// depend on queue per client in clock order, so updates applied newest first
// cost about what they cost in order.
//
// Client ids: see Backend.
//
// Content this package does not model (nested types, maps, arrays, JSON or
// binary content) is refused with ErrUnsupported; formatting marks and embeds
// in a Y.Text are kept and written back unchanged, but are invisible to
// String and positions.
package text
