// The layer module: ferry's own small WebAssembly module for what the npm
// package's .wasm leaves out (wasm/layer, built by scripts/build-wasm-pkg.sh
// into pkg/layer/ferry_layer.wasm): zstd decoding, and ferry-core's layer
// stacking (what whiteouts delete, what opaque directories hide, which
// layer each path comes from, what each layer changes) and its comparison
// of two stacked filesystems (shared layers, paths that differ and how).
// The page fetches and compiles it the first time a zstd layer is read or
// layers are stacked; each stream, stack and comparison gets an instance
// of its own. No JavaScript glue: bytes go through the module's memory
// (see wasm/layer/src/stack.rs and compare.rs for the encodings).

/** What `zstd_decode` answers for an input that ended inside a frame, and for corrupt data. */
const TRUNCATED = -1;
/** What `compare_run` answers for a side whose paths are not in byte order, each once. */
const OUT_OF_ORDER = -2;

/**
 * The module, fetched with `getBytes` once (on first use) and compiled:
 * `{ zstd, stack }`. `zstd`: `() => Promise<(ReadableStream) =>
 * ReadableStream>`, layer.js's zstd loader. `stack(lists)`: the layers'
 * listings (listLayer's answers, lowest first) stacked by ferry-core:
 * `{ paths, changes }`, `paths` in path order, each `{ path, layer,
 * member, dir }` (`member`: the position of its entry in its layer's
 * listing, null for a directory no member names), `changes[i]` the paths
 * layer `i` `added`, `changed` and `deleted`. `compare(a, b)`: two
 * stacked filesystems, each `{ digests, paths }` (its layers' digests,
 * lowest first; the paths a member names, in the order `stack` answers
 * them, each `{ path, layer, entry }` with `entry` listLayer's), compared by ferry-core: `{ layers, files }`,
 * `layers` `{ shared, onlyA, onlyB }` (positions in A's digests for the
 * first two, B's for the third), `files` the paths that differ in path
 * order, each `{ a, b, how }` (positions in A's and B's paths, null on
 * the side without it; `how` one of "only-a", "only-b", "metadata",
 * "content", "content?").
 */
export function layerModule(getBytes) {
  let compiled = null;
  const module = () => (compiled ??= Promise.resolve(getBytes()).then((bytes) => WebAssembly.compile(bytes)));
  return {
    zstd: async () => {
      const m = await module();
      return (compressed) => decompress(m, compressed);
    },
    stack: async (lists) => stack(await module(), lists),
    compare: async (a, b) => compare(await module(), a, b),
  };
}

/** The member tags of wasm/layer/src/stack.rs. */
const SKIP = 0, PUT_FILE = 1, PUT_DIR = 2, WHITEOUT = 3, OPAQUE = 4;
const IMPLIED = 0xffffffff;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One layer's listing as the stack's members: ferry-core's reading of each name, as layerEntries gave it. */
function encodeLayer(entries) {
  const parts = [];
  let length = 0;
  for (const e of entries) {
    let tag, text = null;
    if (e.error || e.aufs) tag = SKIP;
    else if (e.whiteout !== undefined) [tag, text] = [WHITEOUT, e.whiteout];
    else if (e.opaque !== undefined) [tag, text] = [OPAQUE, e.opaque];
    else [tag, text] = [e.type === "dir" ? PUT_DIR : PUT_FILE, e.path];
    const bytes = text === null ? null : encoder.encode(text);
    parts.push(tag, bytes);
    length += 1 + (bytes ? 4 + bytes.length : 0);
  }
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let at = 0;
  for (let i = 0; i < parts.length; i += 2) {
    out[at++] = parts[i];
    const bytes = parts[i + 1];
    if (!bytes) continue;
    view.setUint32(at, bytes.length, true);
    out.set(bytes, at + 4);
    at += 4 + bytes.length;
  }
  return out;
}

/** Reads the module's answers: u32s and strings, little-endian. */
function answerReader(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const u32 = () => { const n = view.getUint32(at, true); at += 4; return n; };
  return {
    u32,
    byte: () => bytes[at++],
    text: () => { const n = u32(); const s = decoder.decode(bytes.subarray(at, at + n)); at += n; return s; },
  };
}

/** Stacks the layers' listings in a fresh instance of the module. */
async function stack(module, lists) {
  const x = (await WebAssembly.instantiate(module, {})).exports;
  const answer = (n) => { const at = x.stack_output(); return answerReader(new Uint8Array(x.memory.buffer, at, n).slice()); };
  const changes = [];
  for (const { entries } of lists) {
    const bytes = encodeLayer(entries);
    const at = x.stack_input(bytes.length); // may grow the memory: its buffer after
    new Uint8Array(x.memory.buffer, at, bytes.length).set(bytes);
    const n = x.stack_apply(bytes.length);
    if (n < 0) throw new Error(`layer #${changes.length}: the layer module could not read its members`);
    const r = answer(n);
    const list = () => Array.from({ length: r.u32() }, r.text);
    const added = list(), changed = list(), deleted = list();
    changes.push({ added, changed, deleted });
  }
  const r = answer(x.stack_paths());
  const paths = Array.from({ length: r.u32() }, () => {
    const layer = r.u32(), member = r.u32(), dir = r.byte() === 1;
    return { path: r.text(), layer, member: member === IMPLIED ? null : member, dir };
  });
  return { paths, changes };
}

/** The header type byte of listLayer's entry types (wasm/layer/src/compare.rs takes the byte). */
const TYPEFLAGS = { file: 0x30, hardlink: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36 };
/** The position of a path on the side that does not have it. */
const NONE = 0xffffffff;
/** `how` by the byte the module answers. */
const HOW = ["only-a", "only-b", "metadata", "content", "content?"];
/** A uid, gid or size; anything but a safe integer (a missing or unreadable field) as 2^64 - 1. */
const u64 = (n) => (Number.isSafeInteger(n) && n >= 0 ? BigInt(n) : 0xffffffffffffffffn);

/** An entry's type byte: listLayer names the known ones, and quotes others (`type "S"`). */
function typeflag(type) {
  if (Object.hasOwn(TYPEFLAGS, type)) return TYPEFLAGS[type];
  const quoted = /^type (".*")$/.exec(type ?? "");
  const c = quoted ? JSON.parse(quoted[1]) : "";
  return c.length === 1 ? c.charCodeAt(0) & 0xff : 0xff;
}

/** Both sides of a comparison as the module reads them. */
function encodeSides(sides) {
  const parts = []; // [kind, value]: "u8" | "u32" | "u64" | "text"
  for (const { digests, paths } of sides) {
    parts.push(["u32", digests.length], ...digests.map((d) => ["text", d]));
    parts.push(["u32", paths.length]);
    for (const { path, layer, entry } of paths) {
      parts.push(["text", path], ["u32", layer], ["u8", typeflag(entry.type)], ["u32", entry.mode >>> 0],
        ["u64", u64(entry.uid)], ["u64", u64(entry.gid)], ["u64", u64(entry.size)], ["text", entry.linkname ?? ""]);
      if (entry.sha256) parts.push(["u8", 1], ["text", entry.sha256]);
      else parts.push(["u8", 0]);
    }
  }
  const texts = parts.map(([kind, v]) => (kind === "text" ? encoder.encode(v) : null));
  const length = parts.reduce((n, [kind], i) => n + ({ u8: 1, u32: 4, u64: 8 }[kind] ?? 4 + texts[i].length), 0);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let at = 0;
  parts.forEach(([kind, v], i) => {
    if (kind === "u8") out[at++] = v;
    else if (kind === "u32") { view.setUint32(at, v, true); at += 4; }
    else if (kind === "u64") { view.setBigUint64(at, v, true); at += 8; }
    else { view.setUint32(at, texts[i].length, true); out.set(texts[i], at + 4); at += 4 + texts[i].length; }
  });
  return out;
}

/** Compares two stacked filesystems in a fresh instance of the module. */
async function compare(module, a, b) {
  const x = (await WebAssembly.instantiate(module, {})).exports;
  const bytes = encodeSides([a, b]);
  const at = x.compare_input(bytes.length); // may grow the memory: its buffer after
  new Uint8Array(x.memory.buffer, at, bytes.length).set(bytes);
  const n = x.compare_run(bytes.length);
  if (n === OUT_OF_ORDER) throw new Error("the filesystems to compare are not in the layer module's path order");
  if (n < 0) throw new Error("the layer module could not read the filesystems to compare");
  const r = answerReader(new Uint8Array(x.memory.buffer, x.compare_output(), n).slice());
  const list = () => Array.from({ length: r.u32() }, r.u32);
  const shared = list(), onlyA = list(), onlyB = list();
  const position = () => { const i = r.u32(); return i === NONE ? null : i; };
  const files = Array.from({ length: r.u32() }, () => {
    const a = position(), b = position();
    return { a, b, how: HOW[r.byte()] };
  });
  return { layers: { shared, onlyA, onlyB }, files };
}

/** The decompressed bytes of a zstd stream, pulled as the reader wants them (at most 256 KiB at a time). */
function decompress(module, compressed) {
  const reader = compressed.getReader();
  let x = null, d = 0, ended = false;
  return new ReadableStream({
    async start() {
      x = (await WebAssembly.instantiate(module, {})).exports;
      d = x.zstd_new();
    },
    async pull(controller) {
      for (;;) {
        const n = x.zstd_decode(d, ended ? 1 : 0);
        if (n > 0) {
          controller.enqueue(new Uint8Array(x.memory.buffer, x.zstd_output(d), n).slice());
          return;
        }
        if (n < 0) {
          await reader.cancel().catch(() => {});
          throw new TypeError(n === TRUNCATED ? "the zstd stream ends inside a frame" : "the data is not zstd, or is corrupt");
        }
        if (ended) {
          x.zstd_free(d);
          controller.close();
          return;
        }
        const r = await reader.read();
        if (r.done) { ended = true; continue; }
        const at = x.zstd_input(d, r.value.length);
        new Uint8Array(x.memory.buffer, at, r.value.length).set(r.value);
      }
    },
    cancel() { return reader.cancel(); },
  }, { highWaterMark: 0 });
}
