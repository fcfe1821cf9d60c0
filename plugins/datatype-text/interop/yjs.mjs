// A line-oriented driver for npm yjs, used by the Go interop tests: each
// input line is a JSON command, each output line the JSON answer.
//
//   {"op":"new","doc":"a","client":7}
//   {"op":"apply","doc":"a","update":"<base64>"}
//   {"op":"insert","doc":"a","name":"t","pos":3,"text":"x"}   (pos in code points)
//   {"op":"delete","doc":"a","name":"t","pos":3,"len":2}      (code points)
//   {"op":"insert16","doc":"a","name":"t","pos":2,"text":"x"} (UTF-16 units)
//   {"op":"format","doc":"a","name":"t","pos":2,"len":3}      (bold; UTF-16 units)
//   {"op":"embed","doc":"a","name":"t","pos":2,"text":"img"}  (UTF-16 units)
//
// Every answer carries the document after the command: texts by name, its
// state vector and state (base64 Yjs v1), and "update": the updates the
// document emitted during the command, merged (base64, "" if none).
import * as Y from 'yjs'
import { createInterface } from 'node:readline'

const docs = new Map()
const b64 = (u8) => Buffer.from(u8).toString('base64')
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'))

// utf16 returns the UTF-16 index of code point position pos in s.
const utf16 = (s, pos) => Array.from(s).slice(0, pos).join('').length

const answer = (d, emitted, names) => {
  const texts = {}
  for (const n of names) texts[n] = d.getText(n).toString()
  return {
    texts,
    delta: names.map((n) => d.getText(n).toDelta()),
    sv: b64(Y.encodeStateVector(d)),
    state: b64(Y.encodeStateAsUpdate(d)),
    update: emitted.length ? b64(Y.mergeUpdates(emitted)) : ''
  }
}

const rl = createInterface({ input: process.stdin })
for await (const line of rl) {
  if (!line.trim()) continue
  let out
  try {
    const c = JSON.parse(line)
    if (c.op === 'new') {
      const d = new Y.Doc()
      d.clientID = c.client
      docs.set(c.doc, d)
    }
    const d = docs.get(c.doc)
    const emitted = []
    const onUpdate = (u) => emitted.push(u)
    d.on('update', onUpdate)
    switch (c.op) {
      case 'new':
        break
      case 'apply':
        Y.applyUpdate(d, unb64(c.update))
        break
      case 'insert': {
        const t = d.getText(c.name)
        t.insert(utf16(t.toString(), c.pos), c.text)
        break
      }
      case 'insert16': // pos in UTF-16 units, to split surrogate pairs on purpose
        d.getText(c.name).insert(c.pos, c.text)
        break
      case 'format': // bold over [pos, pos+len) in UTF-16 units
        d.getText(c.name).format(c.pos, c.len, { bold: true })
        break
      case 'embed': // an embedded object at pos (UTF-16 units)
        d.getText(c.name).insertEmbed(c.pos, { image: c.text })
        break
      case 'delta':
        break
      case 'delete': {
        const t = d.getText(c.name)
        const s = t.toString()
        const from = utf16(s, c.pos)
        t.delete(from, utf16(s, c.pos + c.len) - from)
        break
      }
      default:
        throw new Error('unknown op ' + c.op)
    }
    d.off('update', onUpdate)
    out = answer(d, emitted, c.names || [c.name || 't'])
  } catch (e) {
    out = { error: String(e && e.stack || e) }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}
