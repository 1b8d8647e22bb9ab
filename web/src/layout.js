// Reading image layouts from files the browser gave the page: an OCI
// layout (index.json + blobs/ALG/HEX), as a folder or an oci-archive tar,
// and a dir: folder (manifest.json + HEX files, and for a list each
// instance's manifest as HEX.manifest.json, as containers/image's dir:
// transport writes it). A layout is a plain object:
//   { name, kind, blobs: Map<digest, Uint8Array>, root: Uint8Array, rootLabel }
// and a registry image read through ferry serve has the same shape, with
// remote: true, types: Map<digest, media type>, rootType, and pending: the
// manifests and blobs being fetched ("manifest:DIGEST", "blob:DIGEST").

import { archiveFormat, untar } from "./tar.js";

/** Reads path → bytes as an OCI layout or a dir: folder; throws when it is neither. */
export function readLayout(files, name) {
  // Folders arrive with their own name as the first component: strip a common one.
  const paths = [...files.keys()];
  const first = paths[0]?.split("/")[0];
  if (first && paths.every((p) => p.startsWith(first + "/")) && !files.has("index.json") && !files.has("manifest.json")) {
    files = new Map([...files].map(([p, b]) => [p.slice(first.length + 1), b]));
  }
  const blobs = new Map();
  if (files.has("index.json")) {
    for (const [p, b] of files) {
      const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(p);
      if (m) blobs.set(`${m[1]}:${m[2]}`, b);
    }
    return { name, kind: "OCI layout", blobs, root: files.get("index.json"), rootLabel: "index.json" };
  }
  if (files.has("manifest.json")) {
    for (const [p, b] of files) {
      const m = /^([a-f0-9]{64})(?:\.manifest\.json)?$/.exec(p);
      if (m) blobs.set(`sha256:${m[1]}`, b);
    }
    return { name, kind: "dir: folder", blobs, root: files.get("manifest.json"), rootLabel: "manifest.json" };
  }
  throw new Error(`${name}: neither an OCI layout (no index.json) nor a dir: folder (no manifest.json)`);
}

/** A registry image read through ferry serve, as a layout whose blobs are fetched on demand. */
export function remoteLayout(reference, label, root, rootType) {
  return {
    name: reference, kind: "registry", remote: true, blobs: new Map(), types: new Map(), pending: new Set(),
    root, rootType, rootLabel: label,
  };
}

/**
 * Reads a chosen file: a tar is read as an oci-archive layout, anything
 * else is null (a manifest). A compressed file is refused, naming its
 * compression. `ferry` is the wasm package, which tells a tar and reads it.
 */
export function layoutOfFile(bytes, name, ferry) {
  const format = archiveFormat(bytes, ferry);
  if (format === "tar") return readLayout(untar(bytes, ferry), name);
  if (format) throw new Error(`${name}: the archive is ${format}-compressed; the page reads plain tars only (decompress it first)`);
  return null;
}

/** The files of an <input type=file webkitdirectory> (File objects): relative path → bytes. */
export async function filesOfList(list) {
  const files = new Map();
  for (const f of list) files.set(f.webkitRelativePath || f.name, new Uint8Array(await f.arrayBuffer()));
  return files;
}

/** The files under a dropped FileSystemEntry, into `out`: path (below `prefix`) → bytes. */
export async function filesOfEntry(entry, prefix = "", out = new Map()) {
  if (entry.isFile) {
    const file = await new Promise((res, rej) => entry.file(res, rej));
    out.set(prefix + entry.name, new Uint8Array(await file.arrayBuffer()));
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await filesOfEntry(e, prefix + entry.name + "/", out);
    }
  }
  return out;
}
