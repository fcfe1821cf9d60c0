// Replays an editing trace (argv[2], gzipped JSON) with npm yjs the way the
// Go tests replay it with this package, and writes one JSON line: the update
// each transaction emitted (base64, in transaction order) and the final
// document (Y.encodeStateAsUpdate, base64).
//
// Sequential traces: one Y.Doc under client id 1, one doc.transact per
// transaction. Concurrent traces: a transaction edits a copy of its first
// parent's document merged with the others'; each agent edits under a client
// id until a transaction lands on a branch missing some of that id's history,
// then takes the next id; the final document merges every head.
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

const trace = JSON.parse(gunzipSync(readFileSync(process.argv[2])).toString())
const b64 = (u8) => Buffer.from(u8).toString('base64')

// Positions in traces count code points; Yjs counts UTF-16 units. Without
// characters outside the BMP they are the same.
const astral = /[\uD800-\uDFFF]/.test(JSON.stringify(trace))
const utf16 = (t, pos) => astral ? Array.from(t.toString()).slice(0, pos).join('').length : pos

const applyPatches = (doc, patches) => {
  const t = doc.getText('t')
  const updates = []
  const onUpdate = (u) => updates.push(u)
  doc.on('update', onUpdate)
  doc.transact(() => {
    for (const [pos, del, ins] of patches) {
      if (del > 0) {
        const from = utf16(t, pos)
        t.delete(from, utf16(t, pos + del) - from)
      }
      if (ins) t.insert(utf16(t, pos), ins)
    }
  })
  doc.off('update', onUpdate)
  return updates.length ? b64(Y.mergeUpdates(updates)) : ''
}

const updates = []
let final
if (trace.kind !== 'concurrent') {
  final = new Y.Doc()
  final.clientID = 1
  if (trace.startContent) final.getText('t').insert(0, trace.startContent)
  for (const txn of trace.txns) updates.push(applyPatches(final, txn.patches))
} else {
  let next = 1
  const agentClient = new Map()
  const clientClock = new Map()
  const docs = new Map()
  const pendingKids = new Map()
  const copy = (d) => {
    const c = new Y.Doc()
    Y.applyUpdate(c, Y.encodeStateAsUpdate(d))
    return c
  }
  const take = (p) => {
    const d = docs.get(p)
    pendingKids.set(p, pendingKids.get(p) - 1)
    if (pendingKids.get(p) === 0) {
      docs.delete(p)
      return d
    }
    return copy(d)
  }
  const heads = []
  trace.txns.forEach((txn, i) => {
    let d
    if (txn.parents.length === 0) {
      d = new Y.Doc()
    } else {
      d = take(txn.parents[0])
      for (const p of txn.parents.slice(1)) {
        Y.applyUpdate(d, Y.encodeStateAsUpdate(docs.get(p), Y.encodeStateVector(d)))
        pendingKids.set(p, pendingKids.get(p) - 1)
        if (pendingKids.get(p) === 0) docs.delete(p)
      }
    }
    let c = agentClient.get(txn.agent)
    if (c === undefined || Y.getState(d.store, c) !== clientClock.get(c)) {
      c = next++
      agentClient.set(txn.agent, c)
    }
    d.clientID = c
    updates.push(applyPatches(d, txn.patches))
    clientClock.set(c, Y.getState(d.store, c))
    if (txn.numChildren > 0) {
      docs.set(i, d)
      pendingKids.set(i, txn.numChildren)
    } else {
      heads.push(d)
    }
  })
  final = new Y.Doc()
  for (const h of heads) Y.applyUpdate(final, Y.encodeStateAsUpdate(h))
}
if (final.getText('t').toString() !== trace.endContent) throw new Error('wrong end content')
process.stdout.write(JSON.stringify({ updates, state: b64(Y.encodeStateAsUpdate(final)) }) + '\n')
