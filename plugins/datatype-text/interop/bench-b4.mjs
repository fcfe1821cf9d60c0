// The B4 baseline: replays an editing trace (argv[2], gzipped JSON) into a
// Y.Text, each edit its own transaction and update, then reports the time,
// the encoded document's size, the time to load it and the heap it took.
// Run with node --expose-gc for the heap figure.
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

const trace = JSON.parse(gunzipSync(readFileSync(process.argv[2])).toString())
const gc = globalThis.gc || (() => {})

// CPU time of this process (user + system, GC included) in ms since c0.
const cpu = (c0) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1000 }
const start = performance.now()
const cpu0 = process.cpuUsage()
let doc = new Y.Doc()
doc.clientID = 1
let text = doc.getText('t')
let updateBytes = 0
const updates = []
doc.on('update', (u) => { updateBytes += u.length; updates.push(u) })
// Positions count code points; automerge-paper is ASCII, so they equal Yjs's UTF-16 indexes.
for (const txn of trace.txns) {
  for (const [pos, del, ins] of txn.patches) {
    doc.transact(() => {
      if (del > 0) text.delete(pos, del)
      if (ins) text.insert(pos, ins)
    })
  }
}
const ms = performance.now() - start
const cpuMs = cpu(cpu0)
if (text.toString() !== trace.endContent) throw new Error('wrong end content')
const state = Y.encodeStateAsUpdate(doc)
// The heap the document holds: live heap with it, minus live heap without it.
gc()
const heapWith = process.memoryUsage().heapUsed
doc.destroy()
doc = text = null
gc()
const heapMiB = (heapWith - process.memoryUsage().heapUsed) / (1 << 20)
const loadStart = performance.now()
const loadCpu0 = process.cpuUsage()
const loaded = new Y.Doc()
Y.applyUpdate(loaded, state)
if (loaded.getText('t').toString() !== trace.endContent) throw new Error('wrong loaded content')
const loadMs = performance.now() - loadStart
const loadCpuMs = cpu(loadCpu0)
// A replica receiving the updates one by one.
const applyStart = performance.now()
const applyCpu0 = process.cpuUsage()
const replica = new Y.Doc()
for (const u of updates) Y.applyUpdate(replica, u)
const applyMs = performance.now() - applyStart
const applyCpuMs = cpu(applyCpu0)
if (replica.getText('t').toString() !== trace.endContent) throw new Error('wrong replica content')
process.stdout.write(JSON.stringify({ ms, cpuMs, docBytes: state.length, updateBytes, loadMs, loadCpuMs, heapMiB, applyMs, applyCpuMs }) + '\n')
