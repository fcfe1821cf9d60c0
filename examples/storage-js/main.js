#!/usr/bin/env node
// ankurah-storage-js is an Ankurah storage plugin written in JavaScript: an
// engine that keeps everything in memory, served over the storage plugin
// protocol (docs/storage-plugin-protocol.md). The host starts it, it
// completes go-plugin's handshake on stdout, and the host calls its gRPC
// service. It passes the storage conformance suite:
//
//	npm ci
//	ankurah-conformance storage --plugin ./main.js
//
// It is candidates-only: FetchStates answers every state of the collection
// and the host filters, sorts and limits them (the protocol allows any
// superset when Describe says candidates_only). So it needs no query
// evaluator, and it reads only three keys of a state's CBOR and two of an
// event's. Of the optional capabilities it serves looking up, listing and
// clearing collections and explaining a fetch (protocol version 2), not
// indexes, repair or the change feed.
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { Decoder } = require('cbor-x');

// The handshake's magic cookie: the host sets it; run by hand, the plugin
// explains itself and exits before opening anything.
const MAGIC_KEY = 'ANKURAH_STORAGE_PLUGIN';
const MAGIC_VALUE = 'd1c5a3f0-ankurah-storage';
// The largest message the host sends (an Apply of one big batch).
const MAX_MESSAGE = 256 << 20;
// A streamed answer goes in chunks of at most this many items or bytes.
const CHUNK_ITEMS = 1024;
const CHUNK_BYTES = 1 << 20;
// The .proto files of the storage protocol, in this repository. A plugin
// kept elsewhere copies plugins/storage-plugin/proto/storage/ next to it.
const STORAGE_PROTO_DIR = path.join(__dirname, '..', '..', 'plugins', 'storage-plugin', 'proto');

// log writes one line to stderr in the shape the host parses: a JSON object
// with @level, @message and @timestamp, its other keys becoming attributes.
function log(level, message, attrs = {}) {
  const line = { '@level': level, '@message': message, '@timestamp': new Date().toISOString(), ...attrs };
  process.stderr.write(JSON.stringify(line) + '\n');
}

// StorageError is an engine error; code is the gRPC status code that names
// its storage sentinel (NOT_FOUND, ABORTED for a conflict, ...).
class StorageError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const notFound = (msg) => new StorageError(grpc.status.NOT_FOUND, msg);
const conflict = (msg) => new StorageError(grpc.status.ABORTED, msg);
const closed = () => new StorageError(grpc.status.FAILED_PRECONDITION, 'storage: closed');
const invalid = (msg) => new StorageError(grpc.status.INVALID_ARGUMENT, msg);

// ---- reading the CBOR of states and events ------------------------------

// Integer map keys stay numbers (a Map), byte strings arrive as Uint8Array.
const cbor = new Decoder({ mapsAsObjects: false, useRecords: false });

function decodeMap(bytes, what) {
  let m;
  try {
    m = cbor.decode(bytes);
  } catch (err) {
    throw invalid(`${what} is not CBOR: ${err.message}`);
  }
  if (!(m instanceof Map)) throw invalid(`${what} is not a CBOR map`);
  return m;
}

const isId = (b) => b instanceof Uint8Array && b.length === 32;
const hex = (b) => Buffer.from(b).toString('hex');

// readState returns what the engine needs of a state: its entity id (key 1),
// collection (key 2) and head (key 3, event ids sorted by bytes).
function readState(bytes) {
  const m = decodeMap(bytes, 'state');
  const id = m.get(1);
  const collection = m.get(2);
  const head = m.get(3) ?? [];
  if (!isId(id)) throw invalid('state without a 32-byte entity id');
  if (typeof collection !== 'string' || collection === '') {
    throw invalid(`state ${hex(id)} without collection`);
  }
  if (!Array.isArray(head) || !head.every(isId)) throw invalid(`state ${hex(id)} has a malformed head`);
  return { id: hex(id), collection, head: head.map(hex) };
}

// readEvent returns an event's id (SHA-256 of its canonical bytes, which is
// what the host sends), collection (key 1) and entity (key 2; a genesis
// event has none: its own id is the entity's).
function readEvent(bytes) {
  const m = decodeMap(bytes, 'event');
  const collection = m.get(1);
  const entity = m.get(2);
  if (typeof collection !== 'string' || collection === '') throw invalid('event without collection');
  if (entity !== undefined && !isId(entity)) throw invalid('event with a malformed entity id');
  const id = crypto.createHash('sha256').update(bytes).digest('hex');
  return { id, collection, entity: entity === undefined ? id : hex(entity) };
}

// ---- the engine: the storage contract, in memory ---------------------------

// An empty collection, answered for reads of one that does not exist (a read
// creates nothing).
const NONE = { states: new Map(), events: new Map() };

// Engine keeps, per collection, states by entity id and events by event id,
// each as the bytes the host sent (returned as they are: no re-encoding).
// Node runs one handler at a time, so every call is atomic without locks.
class Engine {
  constructor() {
    this.closed = false;
    // collection -> { states: entity id hex -> { bytes, head },
    //                 events: event id hex -> { bytes, entity } }
    this.collections = new Map();
  }

  check() {
    if (this.closed) throw closed();
  }

  // coll returns a collection's tables; create makes them when missing
  // (OpenCollection and Apply do, reads do not).
  coll(name, create = false) {
    let c = this.collections.get(name);
    if (!c && create) this.collections.set(name, (c = { states: new Map(), events: new Map() }));
    return c ?? NONE;
  }

  openCollection(name) {
    this.check();
    if (name === '') throw invalid('empty collection name');
    this.coll(name, true);
  }

  // lookupCollection finds a collection opened or written before, and
  // creates nothing (capability collection_looker).
  lookupCollection(name) {
    this.check();
    if (name === '') throw invalid('empty collection name');
    if (!this.collections.has(name)) throw notFound(`storage: not found: collection "${name}"`);
  }

  // listCollections names every collection, sorted by their UTF-8 bytes
  // (capability collection_lister).
  listCollections() {
    this.check();
    return [...this.collections.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  // apply writes a batch all or nothing: every expected head is checked
  // before anything is written. A batch that writes an entity twice expects
  // its own earlier write.
  apply(events, writes) {
    this.check();
    const evs = events.map(readEvent);
    const sts = writes.map((w) => ({ ...readState(w.state), bytes: w.state, expected: w.expected.map(hex) }));
    const heads = new Map(); // "collection/id" -> head, as the batch leaves it
    for (const s of sts) {
      const key = `${s.collection}/${s.id}`;
      let head = heads.get(key);
      if (head === undefined) head = this.coll(s.collection).states.get(s.id)?.head ?? null;
      const ok = head === null ? s.expected.length === 0 : sameIds(head, s.expected);
      if (!ok) {
        throw conflict(`${s.id} in "${s.collection}" has head [${head ?? ''}], the batch expected [${s.expected}]`);
      }
      heads.set(key, s.head);
    }
    evs.forEach((e, i) => {
      const t = this.coll(e.collection, true).events;
      if (!t.has(e.id)) t.set(e.id, { bytes: events[i], entity: e.entity }); // a stored event is a no-op
    });
    for (const s of sts) this.coll(s.collection, true).states.set(s.id, { bytes: s.bytes, head: s.head });
  }

  getState(collection, entity) {
    this.check();
    const s = this.coll(collection).states.get(hex(entity));
    if (!s) throw notFound(`storage: not found: ${hex(entity)} in "${collection}"`);
    return s.bytes;
  }

  // fetchStates is candidates-only: every state of the collection.
  fetchStates(collection) {
    this.check();
    return [...this.coll(collection).states.values()].map((s) => s.bytes);
  }

  // getEvents returns the stored events among ids, in the order asked;
  // missing ids are omitted.
  getEvents(collection, ids) {
    this.check();
    const t = this.coll(collection).events;
    return ids.map((id) => t.get(hex(id))).filter(Boolean).map((e) => e.bytes);
  }

  entityEvents(collection, entity) {
    this.check();
    const want = hex(entity);
    return [...this.coll(collection).events.values()].filter((e) => e.entity === want).map((e) => e.bytes);
  }

  // explain says how FetchStates reads (capability explainer): always every
  // state of the collection.
  explain(collection, selection) {
    this.check();
    if (selection.length === 0) throw invalid('explain without a selection');
    const n = this.coll(collection).states.size;
    return `full scan of "${collection}" (${n} states): candidates only, the host filters, sorts and limits`;
  }

  // clear drops every collection (capability clearer).
  clear() {
    this.check();
    this.collections.clear();
  }

  // close frees everything; later calls, a second close included, fail with
  // CLOSED.
  close() {
    this.check();
    this.closed = true;
    this.collections.clear();
  }
}

function sameIds(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---- the gRPC services -----------------------------------------------------

// unary adapts an engine method to a gRPC handler: its result is the answer,
// a StorageError becomes its status, anything else UNKNOWN.
function unary(fn) {
  return (call, callback) => {
    try {
      callback(null, fn(call.request) ?? {});
    } catch (err) {
      callback(toStatus(err));
    }
  };
}

// streamed answers with the byte strings fn returns, in chunks of field
// `field` — always at least one message, possibly empty.
function streamed(field, fn) {
  return (call) => {
    let items;
    try {
      items = fn(call.request);
    } catch (err) {
      call.emit('error', toStatus(err));
      return;
    }
    let chunk = [];
    let size = 0;
    for (const b of items) {
      if (chunk.length > 0 && (chunk.length === CHUNK_ITEMS || size + b.length > CHUNK_BYTES)) {
        call.write({ [field]: chunk });
        chunk = [];
        size = 0;
      }
      chunk.push(b);
      size += b.length;
    }
    call.write({ [field]: chunk });
    call.end();
  };
}

function toStatus(err) {
  if (err instanceof StorageError) return { code: err.code, details: err.message };
  log('error', 'unexpected error', { error: String(err && err.stack ? err.stack : err) });
  return { code: grpc.status.UNKNOWN, details: String(err && err.message ? err.message : err) };
}

// CAPABILITIES are the optional calls of protocol version 2 this plugin
// serves. It leaves out indexer (a candidates-only engine has no use for a
// declared index), repairer (it stores only rows it could read) and
// change_feed; gRPC answers their calls, and DeclareIndex in version 1,
// UNIMPLEMENTED, as the protocol asks of a plugin that did not declare them.
const CAPABILITIES = ['collection_looker', 'collection_lister', 'clearer', 'explainer'];

// storageService is the Storage service of protocol version 1 or 2: the
// calls of version 1, and in version 2 those of CAPABILITIES too.
function storageService(engine, version) {
  const calls = {
    OpenCollection: unary((r) => engine.openCollection(r.collection)),
    Apply: unary((r) => engine.apply(r.events, r.states)),
    GetState: unary((r) => ({ state: engine.getState(r.collection, r.entity) })),
    FetchStates: streamed('states', (r) => engine.fetchStates(r.collection)),
    GetEvents: streamed('events', (r) => engine.getEvents(r.collection, r.ids)),
    EntityEvents: streamed('events', (r) => engine.entityEvents(r.collection, r.entity)),
    Close: unary(() => engine.close()),
  };
  if (version === 1) {
    return { ...calls, Describe: unary(() => ({ engine: 'js-memory', candidates_only: true, indexer: false })) };
  }
  return {
    ...calls,
    Describe: unary(() => ({ engine: 'js-memory', candidates_only: true, capabilities: CAPABILITIES })),
    LookupCollection: unary((r) => engine.lookupCollection(r.collection)),
    ListCollections: unary(() => ({ collections: engine.listCollections() })),
    Clear: unary(() => engine.clear()),
    Explain: unary((r) => ({ plan: engine.explain(r.collection, r.selection) })),
  };
}

function load(dir, file) {
  const def = protoLoader.loadSync(file, { includeDirs: [dir], keepCase: true, defaults: true });
  return grpc.loadPackageDefinition(def);
}

// listen binds the server to 127.0.0.1, on a port in the range the host
// asks for (PLUGIN_MIN_PORT..PLUGIN_MAX_PORT) when it asks for one.
async function listen(server) {
  const min = Number(process.env.PLUGIN_MIN_PORT) || 0;
  const max = Number(process.env.PLUGIN_MAX_PORT) || 0;
  const creds = grpc.ServerCredentials.createInsecure();
  for (let attempt = 0; ; attempt++) {
    const want = min > 0 && max >= min ? min + crypto.randomInt(max - min + 1) : 0;
    try {
      return await new Promise((resolve, reject) =>
        server.bindAsync(`127.0.0.1:${want}`, creds, (err, port) => (err ? reject(err) : resolve(port))));
    } catch (err) {
      if (want === 0 || attempt === 100) throw err;
    }
  }
}

async function main() {
  if (process.env[MAGIC_KEY] !== MAGIC_VALUE) {
    process.stderr.write(
      'ankurah-storage-js is an Ankurah storage plugin: the host starts it (for example\n' +
      "ankurah serve --storage 'plugin:///path/to/main.js', or\n" +
      'ankurah-conformance storage --plugin ./main.js); it is not run by hand.\n');
    process.exit(1);
  }
  // Speak the highest protocol version the host offers that this plugin knows.
  const offered = (process.env.PLUGIN_PROTOCOL_VERSIONS || '1').split(',').map((v) => Number(v.trim()));
  const version = offered.includes(2) ? 2 : offered.includes(1) ? 1 : 0;
  if (version === 0) {
    process.stderr.write(`ankurah-storage-js speaks storage plugin protocol versions 1 and 2; the host offers ${offered}\n`);
    process.exit(1);
  }

  const storage = load(STORAGE_PROTO_DIR, `storage/v${version}/storage.proto`).ankurah.storage[`v${version}`];
  const local = path.join(__dirname, 'proto');
  const health = load(local, 'health.proto').grpc.health.v1;
  const goplugin = load(local, 'go-plugin.proto').plugin;

  const engine = new Engine();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE,
    'grpc.max_send_message_length': MAX_MESSAGE,
  });
  const stdio = new Set();
  const exit = () => {
    for (const call of stdio) call.end();
    server.forceShutdown();
    process.exit(0);
  };

  server.addService(storage.Storage.service, storageService(engine, version));
  server.addService(health.Health.service, {
    Check: (call, cb) => cb(null, { status: 'SERVING' }),
  });
  server.addService(goplugin.GRPCController.service, {
    // The host asks the plugin to end (after Close): answer, then exit.
    Shutdown: (call, cb) => {
      cb(null, {});
      setImmediate(exit);
    },
  });
  server.addService(goplugin.GRPCStdio.service, {
    // Nothing is forwarded: the stream stays open until the plugin ends.
    StreamStdio: (call) => {
      stdio.add(call);
      call.on('cancelled', () => stdio.delete(call));
    },
  });

  const port = await listen(server);
  // The handshake: CORE-PROTOCOL-VERSION|APP-PROTOCOL-VERSION|tcp|ADDR|grpc.
  process.stdout.write(`1|${version}|tcp|127.0.0.1:${port}|grpc\n`);
  log('debug', 'serving', { version, port });

  // Ctrl-C in a terminal reaches the whole process group; the host decides
  // when its plugin ends, as a Go plugin does.
  process.on('SIGINT', () => {});
  // If the host dies without ending the plugin, the plugin is re-parented:
  // exit rather than live on as an orphan.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      log('warn', 'the host process is gone; exiting');
      exit();
    }
  }, 1000).unref();
}

main().catch((err) => {
  log('error', 'ankurah-storage-js failed to start', { error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
