// Reading a layer as a stream, without holding it: what it is (by
// ferry-core's `detectArchiveFormat`), gzip through the platform's
// DecompressionStream, zstd through ferry's own layer module (layer-module.js,
// loaded only then), then tar headers one at a time while file contents
// stream past. This module only reads header bytes (tar.js's field
// readers); what a member's name means (its normalised path, a whiteout
// and what it deletes, an opaque directory, a name a safe applier
// refuses) is ferry-core's, through `layerEntries`.
//
// Hostile layers end in a LayerError that says what happened: a stream
// that is not a tar, a truncated or corrupt gzip stream, a tar that ends
// inside a header or a member, a layer that expands past LIMITS (a
// decompression bomb), too many members.

import { field, isTar, number, paxRecords, TarError } from "./tar.js";

const BLOCK = 512;
const MiB = 1024 * 1024;

/**
 * Where reading stops. `expandedMin` and `ratio`: a layer may expand to
 * max(expandedMin, ratio × the compressed bytes read so far) before it is
 * taken for a decompression bomb; `entries`: members listed at most;
 * `text`: bytes of a file shown at most; `hash`: the largest file whose
 * content a comparison hashes.
 */
export const LIMITS = Object.freeze({ expandedMin: 256 * MiB, ratio: 100, entries: 1_000_000, text: MiB, hash: MiB });

/** What is wrong with a layer. */
export class LayerError extends Error {
  constructor(message) {
    super(message);
    this.name = "LayerError";
  }
}

/** What each header type byte is. */
const TYPES = {
  "0": "file", "\0": "file", "7": "file", "1": "hardlink", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo",
};

/** Reads exact byte counts from a stream of chunks; `counted(n)` hears of every chunk. */
function byteReader(stream, counted) {
  const reader = stream.getReader();
  let chunk = new Uint8Array(0), at = 0, ended = false;
  async function fill() {
    while (at >= chunk.length) {
      if (ended) return false;
      const r = await reader.read();
      if (r.done) { ended = true; return false; }
      chunk = r.value;
      at = 0;
      counted(chunk.length);
    }
    return true;
  }
  return {
    /** `n` bytes, or fewer when the stream ends first. */
    async read(n) {
      const out = new Uint8Array(n);
      let got = 0;
      while (got < n && await fill()) {
        const k = Math.min(n - got, chunk.length - at);
        out.set(chunk.subarray(at, at + k), got);
        got += k;
        at += k;
      }
      return got === n ? out : out.subarray(0, got);
    },
    /** Passes `n` bytes to `sink` (or drops them); how many there were. `sink` returning false stops early. */
    async pass(n, sink) {
      let left = n;
      while (left > 0 && await fill()) {
        const k = Math.min(left, chunk.length - at);
        const more = sink ? sink(chunk.subarray(at, at + k)) : true;
        left -= k;
        at += k;
        if (more === false) return null;
      }
      return n - left;
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/** Concatenates chunks. */
function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * The layer's tar stream, decompressed: `{ format, tar, compressed() }`,
 * `format` "tar", "gzip" or "zstd", `compressed()` the bytes read so far
 * from `stream`. zstd goes through `zstd` (layer-module.js's zstd loader), when given;
 * xz and bzip2 layers and anything else are refused with a LayerError
 * saying what they are. Given `size` (the descriptor's), a stream that
 * runs past it ends in a LayerError: a blob never streams forever.
 */
export async function openLayer(stream, ferry, { zstd = null, size = null } = {}) {
  const reader = stream.getReader();
  const parts = [];
  let have = 0;
  while (have < BLOCK) {
    const r = await reader.read();
    if (r.done) break;
    parts.push(r.value);
    have += r.value.length;
  }
  const head = concat(parts);
  let compressed = head.length;
  if (size !== null && compressed > size) {
    await reader.cancel().catch(() => {});
    throw new LayerError(`the layer's blob runs past the ${size} bytes its descriptor declares: reading stopped`);
  }
  const rest = new ReadableStream({
    start(c) { if (head.length) c.enqueue(head); },
    async pull(c) {
      const r = await reader.read();
      if (r.done) { c.close(); return; }
      compressed += r.value.length;
      if (size !== null && compressed > size) {
        await reader.cancel().catch(() => {});
        c.error(new LayerError(`the layer's blob runs past the ${size} bytes its descriptor declares: reading stopped`));
        return;
      }
      c.enqueue(r.value);
    },
    cancel() { return reader.cancel(); },
  });
  // An all-zero first block is a tar's end: an empty layer.
  const zeros = head.length >= BLOCK && head.subarray(0, BLOCK).every((b) => b === 0);
  const format = zeros ? "tar" : ferry.detectArchiveFormat(head.subarray(0, BLOCK));
  const done = { format, compressed: () => compressed };
  switch (format) {
    case "tar": return { ...done, tar: rest };
    case "gzip":
      if (typeof DecompressionStream === "undefined") {
        await reader.cancel().catch(() => {});
        throw new LayerError("this layer is gzip-compressed, and this browser has no DecompressionStream to inflate it");
      }
      return { ...done, tar: rest.pipeThrough(new DecompressionStream("gzip")) };
    case "zstd":
      if (zstd) {
        let decompress;
        try {
          decompress = await zstd();
        } catch (e) {
          await reader.cancel().catch(() => {});
          throw new LayerError(`this layer is zstd-compressed, and the layer module with the zstd decoder (pkg/layer/ferry_layer.wasm) could not be loaded: ${e.message}`);
        }
        return { ...done, tar: decompress(rest) };
      }
    // falls through: no decoder
    case "xz": case "bzip2":
      await reader.cancel().catch(() => {});
      throw new LayerError(`this layer is ${format}-compressed, which this page cannot decompress (it reads gzip, zstd and uncompressed layers)`);
    default:
      await reader.cancel().catch(() => {});
      throw new LayerError(head.length === 0
        ? "the layer is empty: not even a tar's end-of-archive blocks"
        : "the layer is neither a tar nor compressed data ferry-core recognises (gzip, zstd, xz, bzip2)");
  }
}

/**
 * Walks the members of an opened layer. `visit(member)` is called for
 * each, in order, and may return a sink for its data (called with each
 * chunk; returning false stops the walk). Throws a LayerError for a
 * truncated or corrupt stream, a bomb, or too many members.
 */
async function walk(opened, visit, limits) {
  let expanded = 0;
  const bytes = byteReader(opened.tar, (n) => {
    expanded += n;
    const allowed = Math.max(limits.expandedMin, limits.ratio * opened.compressed());
    if (opened.format !== "tar" && expanded > allowed) {
      throw new LayerError(`the layer expands to more than ${allowed} bytes from ${opened.compressed()} compressed bytes (over ${limits.ratio} times): reading stopped, as for a decompression bomb`);
    }
  });
  let count = 0, offset = 0, longName = null, longLink = null, pax = null;
  try {
    for (;;) {
      const header = await bytes.read(BLOCK);
      if (header.length === 0) break; // no end-of-archive blocks: tolerated
      if (header.length < BLOCK) throw new LayerError(`truncated layer: the header at byte ${offset} has ${header.length} of its ${BLOCK} bytes`);
      if (header.every((b) => b === 0)) break;
      let name;
      try {
        if (!isTar(header, opened.ferry)) throw new LayerError(`corrupt tar header: the checksum of the header at byte ${offset} does not hold`);
        name = field(header, 0, 100, `the entry at byte ${offset}`);
        if (String.fromCharCode(...header.subarray(257, 263)) === "ustar\0") {
          const prefix = field(header, 345, 155, name);
          if (prefix) name = `${prefix}/${name}`;
        }
      } catch (e) {
        throw e instanceof TarError ? new LayerError(e.message) : e;
      }
      const type = String.fromCharCode(header[156]);
      const num = (start, length, what) => {
        try { return number(header, start, length, what, name); } catch (e) { throw new LayerError(e.message); }
      };
      const size = pax?.has("size") ? Number(pax.get("size")) : num(124, 12, "size");
      if (!Number.isSafeInteger(size) || size < 0) throw new LayerError(`${JSON.stringify(name)}: an invalid size`);
      offset += BLOCK;
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (type === "L" || type === "K" || type === "x") {
        if (size > MiB) throw new LayerError(`${JSON.stringify(name)}: an extended header of ${size} bytes`);
        const body = await bytes.read(padded);
        if (body.length < padded) throw new LayerError(`truncated layer: the extended header at byte ${offset - BLOCK} ends early`);
        const data = body.subarray(0, size);
        try {
          if (type === "x") pax = paxRecords(data, name);
          else {
            const text = field(data, 0, data.length, name);
            if (type === "L") longName = text; else longLink = text;
          }
        } catch (e) {
          throw e instanceof TarError ? new LayerError(e.message) : e;
        }
        offset += padded;
        continue;
      }
      if (type === "g") {
        if ((await bytes.pass(padded)) < padded) throw new LayerError("truncated layer: a global header ends early");
        offset += padded;
        continue;
      }
      if (++count > limits.entries) throw new LayerError(`the layer has more than ${limits.entries} members: listing stopped`);
      const member = {
        index: count - 1,
        name: pax?.get("path") ?? longName ?? name,
        type: TYPES[type] ?? `type ${JSON.stringify(type)}`,
        size: type === "0" || type === "\0" || type === "7" ? size : 0,
        mode: num(100, 8, "mode") & 0o7777,
        uid: pax?.has("uid") ? Number(pax.get("uid")) : num(108, 8, "uid"),
        gid: pax?.has("gid") ? Number(pax.get("gid")) : num(116, 8, "gid"),
        uname: pax?.get("uname") ?? field(header, 265, 32, name),
        gname: pax?.get("gname") ?? field(header, 297, 32, name),
        mtime: pax?.has("mtime") ? Number(pax.get("mtime")) : num(136, 12, "mtime"),
        linkname: type === "1" || type === "2" ? (pax?.get("linkpath") ?? longLink ?? field(header, 157, 100, name)) : "",
      };
      longName = longLink = pax = null;
      const sink = visit(member);
      const passed = await bytes.pass(size, sink);
      if (passed === null || (sink && size === 0)) return;
      if (passed < size) throw new LayerError(`truncated layer: ${JSON.stringify(member.name)} declares ${size} bytes, the layer ends after ${passed}`);
      if ((await bytes.pass(padded - size)) < padded - size) throw new LayerError(`truncated layer: ${JSON.stringify(member.name)}'s padding ends early`);
      offset += padded;
    }
  } catch (e) {
    bytes.cancel();
    if (e instanceof LayerError) throw e;
    // DecompressionStream's errors: a truncated or corrupt gzip stream.
    throw new LayerError(`the layer's ${opened.format} stream is truncated or corrupt (${e.message})`);
  }
  bytes.cancel();
}

/**
 * Lists a layer: `{ format, entries }`, one entry per member in archive
 * order: the member's header fields (`name` as spelt, `type`, `size`,
 * `mode`, `uid`, `gid`, `uname`, `gname`, `mtime`, `linkname`) and
 * ferry-core's reading of its name (`path`, `whiteout`, `opaque`, `aufs`,
 * or `error`); a hard link's target normalised as `linkPath`. Options:
 * `limits` (LIMITS), `zstd` (layer-module.js's zstd loader, for zstd
 * layers; without it they are refused), `size` (the descriptor's size,
 * when known), `hashUpTo`: regular files of at most that many bytes get
 * `sha256`, their content's digest (ferry-core's `digest`), so two files
 * can be compared by content.
 */
export async function listLayer(stream, ferry, { limits = LIMITS, zstd = null, size = null, hashUpTo = 0 } = {}) {
  const opened = { ...(await openLayer(stream, ferry, { zstd, size })), ferry };
  const entries = [];
  // The regular file being hashed: its entry and its data so far (digested
  // when the walk reaches the next member, so one file's bytes at a time).
  let hashing = null;
  const digestHashed = () => {
    if (hashing) hashing.entry.sha256 = ferry.digest(concat(hashing.parts));
    hashing = null;
  };
  await walk(opened, (m) => {
    digestHashed();
    entries.push(m);
    if (m.type !== "file" || m.size > hashUpTo) return null;
    if (m.size === 0) { m.sha256 = ferry.digest(new Uint8Array(0)); return null; }
    hashing = { entry: m, parts: [] };
    return (chunk) => { hashing.parts.push(chunk.slice()); };
  }, limits);
  digestHashed();
  const meanings = ferry.layerEntries(entries.map((e) => e.name));
  entries.forEach((e, i) => Object.assign(e, meanings[i]));
  const links = entries.filter((e) => e.type === "hardlink");
  const targets = ferry.layerEntries(links.map((e) => e.linkname));
  links.forEach((e, i) => { e.linkPath = targets[i].path ?? null; if (targets[i].error) e.error ??= `hard link to ${targets[i].error}`; });
  return { format: opened.format, entries };
}

/**
 * The data of the member at `index` (a hard link's: give its target's
 * index): `{ bytes, size, complete }`, at most `limit` bytes. Stops reading
 * the layer as soon as it has them. `zstd`, `size`: as for listLayer.
 */
export async function readMember(stream, ferry, index, limit, { zstd = null, size = null } = {}) {
  const opened = { ...(await openLayer(stream, ferry, { zstd, size })), ferry };
  const parts = [];
  let got = 0, length = null;
  await walk(opened, (m) => {
    if (m.index !== index) return null;
    length = m.size;
    return (chunk) => {
      const k = Math.min(chunk.length, limit - got);
      parts.push(chunk.slice(0, k));
      got += k;
      return got < limit && got < length;
    };
  }, { ...LIMITS, entries: Infinity });
  if (length === null) throw new LayerError(`the layer has no member ${index}`);
  return { bytes: concat(parts), size: length, complete: got >= length };
}
