// Reading a tar (an oci-archive) into its regular files. This module only
// reads header bytes: ustar fields (with the POSIX prefix), GNU long names
// (`L`, `K`) and pax records (`path`, `linkpath`, `size`), and refuses an
// archive that ends inside a header or a member rather than read it
// short. What the headers mean is ferry-core's, through the wasm package
// (`ferry`, as loaded by the page): whether a header's checksum holds
// (`detectArchiveFormat`), and which names, links and entry types an image
// archive may hold and what its regular files are (`tarFiles`), the rules
// native ferry's archive reader follows.

/** What is wrong with a tar, naming the entry. */
export class TarError extends Error {
  constructor(message) {
    super(message);
    this.name = "TarError";
  }
}

const BLOCK = 512;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * What a file's first bytes are, by ferry-core: "tar" (its first header's
 * checksum holds), the compression ("gzip", "zstd", "xz", "bzip2"), or "".
 */
export function archiveFormat(bytes, ferry) {
  return ferry.detectArchiveFormat(bytes.subarray(0, BLOCK));
}

/** Whether the bytes start with a tar header, by ferry-core. */
export function isTar(bytes, ferry) {
  return archiveFormat(bytes, ferry) === "tar";
}

/** A NUL-terminated field as text. */
export function field(header, start, length, entry) {
  let end = start;
  while (end < start + length && header[end] !== 0) end++;
  try {
    return utf8.decode(header.subarray(start, end));
  } catch {
    throw new TarError(`${entry}: a name in the header is not UTF-8`);
  }
}

/** A numeric header field: octal text, or base-256 when the high bit is set (GNU, for large sizes). */
export function number(header, start, length, what, entry) {
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
export function paxRecords(body, entry) {
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
 * The regular files of a tar: normalised path → bytes (views into `buf`),
 * in archive order. Symbolic links to files in the archive appear under
 * their own name too; links to directories or to nothing are left out, as
 * after extraction. Throws a TarError naming the entry for anything a safe
 * reader refuses (ferry-core's message for what the names, links and
 * types mean).
 */
export function untar(buf, ferry) {
  const members = []; // { name, typeflag, linkname? }, as ferry-core's tarFiles reads them
  const bodies = [];
  let off = 0, longName = null, longLink = null, pax = null;
  while (off < buf.length) {
    if (off + BLOCK > buf.length) {
      throw new TarError(`truncated tar: the header at byte ${off} has ${buf.length - off} of its ${BLOCK} bytes`);
    }
    const header = buf.subarray(off, off + BLOCK);
    if (header.every((b) => b === 0)) break;
    if (!isTar(header, ferry)) {
      throw new TarError(`${off === 0 ? "not a tar archive" : "corrupt tar header"}: the checksum of the header at byte ${off} does not hold`);
    }
    const ustar = String.fromCharCode(...header.subarray(257, 263)) === "ustar\0";
    let name = field(header, 0, 100, `the entry at byte ${off}`);
    // POSIX ustar splits long names into prefix/name; GNU keeps times there.
    if (ustar) {
      const prefix = field(header, 345, 155, name);
      if (prefix) name = prefix + "/" + name;
    }
    const typeflag = header[156];
    const type = String.fromCharCode(typeflag);
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
    const linkname = pax?.get("linkpath") ?? longLink ?? field(header, 157, 100, raw);
    longName = longLink = pax = null;
    members.push({ name: raw, typeflag, linkname });
    bodies.push(body);
  }
  let files;
  try {
    files = ferry.tarFiles(members);
  } catch (e) {
    throw new TarError(e.message);
  }
  return new Map(files.map((f) => [f.name, bodies[f.member]]));
}
