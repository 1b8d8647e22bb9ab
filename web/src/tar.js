// Reading a tar (an oci-archive) into its regular files, by the rules
// native ferry's archive reader follows: names normalised (`./a//b` is
// `a/b`), absolute names and `..` refused, a name given twice refused,
// links resolved inside the archive only, and an archive that ends inside
// a header or a member refused rather than read short. ustar, GNU long
// names (`L`) and pax headers (`path`, `linkpath`, `size`) are understood.

/** What is wrong with a tar, naming the entry. */
export class TarError extends Error {
  constructor(message) {
    super(message);
    this.name = "TarError";
  }
}

const BLOCK = 512;
const MAX_LINK_HOPS = 40;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Whether the bytes start with a ustar (POSIX or GNU) header. */
export function isTar(bytes) {
  return bytes.length >= BLOCK && String.fromCharCode(...bytes.subarray(257, 262)) === "ustar";
}

/** A NUL-terminated field as text. */
function field(header, start, length, entry) {
  let end = start;
  while (end < start + length && header[end] !== 0) end++;
  try {
    return utf8.decode(header.subarray(start, end));
  } catch {
    throw new TarError(`${entry}: a name in the header is not UTF-8`);
  }
}

/** A numeric header field: octal text, or base-256 when the high bit is set (GNU, for large sizes). */
function number(header, start, length, what, entry) {
  if (header[start] & 0x80) {
    let n = header[start] & 0x7f;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + header[i];
    return n;
  }
  const text = String.fromCharCode(...header.subarray(start, start + length)).replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`${entry}: the ${what} field ${JSON.stringify(text)} is not an octal number`);
  return parseInt(text, 8);
}

/** The records of a pax extended header: key → value. */
function paxRecords(body, entry) {
  const records = new Map();
  let off = 0;
  while (off < body.length) {
    let space = off;
    while (space < body.length && body[space] !== 0x20) space++;
    const length = Number(String.fromCharCode(...body.subarray(off, space)));
    if (!Number.isInteger(length) || length <= space - off + 1 || off + length > body.length || body[off + length - 1] !== 0x0a) {
      if (body.subarray(off).every((b) => b === 0)) break;
      throw new TarError(`${entry}: a malformed pax record at byte ${off} of its extended header`);
    }
    let record;
    try {
      record = utf8.decode(body.subarray(space + 1, off + length - 1));
    } catch {
      throw new TarError(`${entry}: a pax record is not UTF-8`);
    }
    const eq = record.indexOf("=");
    if (eq < 1) throw new TarError(`${entry}: a pax record without a key: ${JSON.stringify(record)}`);
    records.set(record.slice(0, eq), record.slice(eq + 1));
    off += length;
  }
  return records;
}

/**
 * An entry name normalised as an extractor would see it: `./a//b/` is
 * `a/b`, the archive root is "". Throws for absolute names and `..`.
 */
export function normaliseName(name) {
  if (name.startsWith("/")) throw new TarError(`${JSON.stringify(name)}: an absolute path`);
  const parts = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw new TarError(`${JSON.stringify(name)}: the path has a '..' component`);
    parts.push(part);
  }
  return parts.join("/");
}

/** Where a symbolic link at `name` to `target` leads, normalised; null when it leaves the archive. */
function symlinkTarget(name, target) {
  if (target === "" || target.startsWith("/")) return null;
  const parts = name.split("/");
  parts.pop();
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (!parts.length) return null;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}

/**
 * The regular files of a tar: normalised path → bytes (views into `buf`).
 * Symbolic links to files in the archive appear under their own name too;
 * links to directories or to nothing are left out, as after extraction.
 * Throws a TarError naming the entry for anything a safe reader refuses.
 */
export function untar(buf) {
  const entries = new Map(); // name → { kind: "file", body } | { kind: "dir" } | { kind: "symlink", target }
  let off = 0, longName = null, longLink = null, pax = null;
  while (off < buf.length) {
    if (off + BLOCK > buf.length) {
      throw new TarError(`truncated tar: the header at byte ${off} has ${buf.length - off} of its ${BLOCK} bytes`);
    }
    const header = buf.subarray(off, off + BLOCK);
    if (header.every((b) => b === 0)) break;
    const ustar = String.fromCharCode(...header.subarray(257, 263)) === "ustar\0";
    let name = field(header, 0, 100, `the entry at byte ${off}`);
    // POSIX ustar splits long names into prefix/name; GNU keeps times there.
    if (ustar) {
      const prefix = field(header, 345, 155, name);
      if (prefix) name = prefix + "/" + name;
    }
    const type = header[156] === 0 ? "\0" : String.fromCharCode(header[156]);
    const size = pax?.has("size") ? Number(pax.get("size")) : number(header, 124, 12, "size", name);
    if (!Number.isSafeInteger(size) || size < 0) throw new TarError(`${name}: an invalid size`);
    const start = off + BLOCK;
    if (start + size > buf.length) {
      throw new TarError(`truncated tar: ${JSON.stringify(longName ?? pax?.get("path") ?? name)} declares ${size} bytes, the archive holds ${buf.length - start} after its header`);
    }
    const body = buf.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;

    if (type === "L" || type === "K") {
      let text;
      try { text = utf8.decode(body).replace(/\0.*$/s, ""); } catch { throw new TarError(`${name}: a GNU long name is not UTF-8`); }
      if (type === "L") longName = text; else longLink = text;
      continue;
    }
    if (type === "x") { pax = paxRecords(body, name); continue; }
    if (type === "g") continue;

    const raw = pax?.get("path") ?? longName ?? name;
    const link = pax?.get("linkpath") ?? longLink ?? field(header, 157, 100, raw);
    longName = longLink = pax = null;
    const path = normaliseName(raw);
    let entry;
    if ((type === "\0" && raw.endsWith("/")) || type === "5") entry = { kind: "dir" };
    else if (type === "0" || type === "\0" || type === "7") entry = { kind: "file", body };
    else if (type === "1") {
      let target;
      try { target = normaliseName(link); } catch { throw new TarError(`${JSON.stringify(raw)}: a hard link to ${JSON.stringify(link)} points outside the archive`); }
      const earlier = entries.get(target);
      if (earlier?.kind !== "file") {
        throw new TarError(`${JSON.stringify(raw)}: a hard link to ${JSON.stringify(link)}, which is not an earlier regular file in the archive`);
      }
      entry = earlier;
    } else if (type === "2") {
      const target = symlinkTarget(path, link);
      if (target === null) throw new TarError(`${JSON.stringify(raw)}: a symbolic link to ${JSON.stringify(link)} points outside the archive`);
      entry = { kind: "symlink", target };
    } else if (type === "3" || type === "4") throw new TarError(`${JSON.stringify(raw)}: device files have no place in an image archive`);
    else if (type === "6") throw new TarError(`${JSON.stringify(raw)}: FIFOs have no place in an image archive`);
    else throw new TarError(`${JSON.stringify(raw)}: unsupported entry type ${JSON.stringify(type)}`);

    if (path === "") {
      if (entry.kind !== "dir") throw new TarError(`${JSON.stringify(raw)}: the entry names the archive root`);
      continue;
    }
    if (entries.has(path)) throw new TarError(`${JSON.stringify(raw)}: a duplicate entry (readers disagree on which copy counts)`);
    entries.set(path, entry);
  }

  const files = new Map();
  for (const [path, entry] of entries) {
    let current = entry;
    for (let hops = 0; current?.kind === "symlink"; hops++) {
      if (hops >= MAX_LINK_HOPS) throw new TarError(`${JSON.stringify(path)}: a symbolic link loop`);
      current = entries.get(current.target);
    }
    if (current?.kind === "file") files.set(path, current.body);
  }
  return files;
}
