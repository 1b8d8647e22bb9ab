// A layer's members as a tree: directories (named or implied by the paths
// below them), files, links, and whiteouts shown as deletions at the path
// they delete. The members' meaning (paths, whiteouts, refusals) comes
// from ferry-core through layer.js; this only arranges them.

/** The node at `path` below `root`, made (with its parents) if missing. */
function nodeAt(root, path) {
  let node = root;
  for (const part of path.split("/")) {
    let child = node.children.get(part);
    if (!child) {
      child = { name: part, path: node.path ? `${node.path}/${part}` : part, children: new Map(), entry: null, deleted: null, opaque: null };
      node.children.set(part, child);
    }
    node = child;
  }
  return node;
}

/**
 * The tree of a listed layer: `{ root, problems }`. A later member of the
 * same path replaces an earlier one, as extraction does. Refused names
 * become problems (ferry-core's message); AUFS metadata is left out.
 */
export function layerTree(entries) {
  const root = { name: "", path: "", children: new Map(), entry: null, deleted: null, opaque: null };
  const problems = [];
  for (const e of entries) {
    if (e.error) problems.push(e.error);
    else if (e.aufs) continue;
    else if (e.whiteout !== undefined) nodeAt(root, e.whiteout).deleted = e;
    else if (e.opaque !== undefined) (e.opaque === "" ? root : nodeAt(root, e.opaque)).opaque = e;
    else if (e.path === "") root.entry = e;
    else nodeAt(root, e.path).entry = e;
  }
  return { root, problems };
}

/** The bytes of the files at and below a node. */
export function totalSize(node) {
  let n = node.entry?.type === "file" ? node.entry.size : 0;
  for (const c of node.children.values()) n += totalSize(c);
  return n;
}

/** The nodes below `root` in display order (depth first, names sorted), each with its depth. */
export function treeRows(root) {
  const rows = [];
  const visit = (node, depth) => {
    for (const name of [...node.children.keys()].sort()) {
      const child = node.children.get(name);
      rows.push({ node: child, depth });
      visit(child, depth + 1);
    }
  };
  visit(root, 0);
  return rows;
}

/** `drwxr-xr-x`-style text for an entry's type and mode. */
export function modeText(entry) {
  if (!entry) return "d?????????";
  const kind = { dir: "d", symlink: "l", char: "c", block: "b", fifo: "p" }[entry.type] ?? "-";
  const m = entry.mode;
  const bit = (mask, c) => (m & mask ? c : "-");
  const x = (mask, special, on, off) => (m & special ? (m & mask ? on : off) : bit(mask, "x"));
  return kind + bit(0o400, "r") + bit(0o200, "w") + x(0o100, 0o4000, "s", "S")
    + bit(0o40, "r") + bit(0o20, "w") + x(0o10, 0o2000, "s", "S")
    + bit(0o4, "r") + bit(0o2, "w") + x(0o1, 0o1000, "t", "T");
}

/** The node at `path`, or null. */
export function findNode(root, path) {
  let node = root;
  for (const part of path.split("/")) {
    node = node.children.get(part);
    if (!node) return null;
  }
  return node;
}

/**
 * What a container sees, as a tree: the layers' listings (`[{ entries }]`,
 * lowest first) and ferry-core's stacking of them (`stacked`, the layer
 * module's `stack(lists)` answer: which layer and member each path comes
 * from, what each layer changes). `{ root, changes }`: each node's `entry`
 * is its member's entry (null for a directory no member names), its
 * `layer` the position of the layer that entry comes from (null for such a
 * directory). The rules are ferry-core's (ferry_core::tar::stack); this
 * only arranges its answer.
 */
export function mergeLayers(lists, stacked) {
  const root = { name: "", path: "", children: new Map(), entry: null, deleted: null, opaque: null, layer: null };
  for (const { path, layer, member } of stacked.paths) {
    const node = nodeAt(root, path);
    node.entry = member === null ? null : lists[layer].entries[member];
    node.layer = member === null ? null : layer;
  }
  return { root, changes: stacked.changes };
}

/** Every node with an entry below `root`, by path. */
export function flatten(root) {
  const out = new Map();
  const visit = (node) => {
    for (const child of node.children.values()) {
      if (child.entry) out.set(child.path, child);
      visit(child);
    }
  };
  visit(root);
  return out;
}

/** The metadata of an entry that tells two versions of a path apart (content aside). */
function metadata(e) {
  return [e.type, e.size, e.mode, e.uid, e.gid, e.linkname].join("\0");
}

/**
 * Two merged filesystems side by side (`mergeLayers` answers, with the
 * layer digests each was merged from): `{ layers, files }`. `layers`:
 * `shared`, `onlyA`, `onlyB` (digests). `files`: the paths that differ, in
 * order, each `{ path, a, b, how }`, `how` one of "only-a", "only-b",
 * "metadata" (type, size, mode, owner or link target differ), "content"
 * (regular files with the same metadata whose content digests, `sha256`
 * from listLayer's `hashUpTo`, differ) or "content?" (the same metadata
 * from different layers, not both hashed: the bytes may differ).
 * A path both take from the same layer is the same file, and not listed;
 * nor are two files with the same metadata and the same content digest.
 */
export function compareFilesystems(a, b) {
  const inA = new Set(a.digests), inB = new Set(b.digests);
  const layers = {
    shared: a.digests.filter((d) => inB.has(d)),
    onlyA: a.digests.filter((d) => !inB.has(d)),
    onlyB: b.digests.filter((d) => !inA.has(d)),
  };
  const fa = flatten(a.merged.root), fb = flatten(b.merged.root);
  const files = [];
  for (const path of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
    const x = fa.get(path), y = fb.get(path);
    if (!y) files.push({ path, a: x, b: null, how: "only-a" });
    else if (!x) files.push({ path, a: null, b: y, how: "only-b" });
    else if (metadata(x.entry) !== metadata(y.entry)) files.push({ path, a: x, b: y, how: "metadata" });
    else if (a.digests[x.layer] !== b.digests[y.layer] && x.entry.type === "file") {
      const [ha, hb] = [x.entry.sha256, y.entry.sha256];
      if (!ha || !hb) files.push({ path, a: x, b: y, how: "content?" });
      else if (ha !== hb) files.push({ path, a: x, b: y, how: "content" });
    }
  }
  return { layers, files };
}
