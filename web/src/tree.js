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
