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
 * from, what each layer changes). `{ root, changes, paths }`: each node's
 * `entry` is its member's entry (null for a directory no member names),
 * its `layer` the position of the layer that entry comes from (null for
 * such a directory); `paths` the nodes with an entry, in ferry-core's
 * order (bytes), as a comparison takes them. The rules are ferry-core's (ferry_core::tar::stack); this
 * only arranges its answer.
 */
export function mergeLayers(lists, stacked) {
  const root = { name: "", path: "", children: new Map(), entry: null, deleted: null, opaque: null, layer: null };
  const paths = [];
  for (const { path, layer, member } of stacked.paths) {
    const node = nodeAt(root, path);
    node.entry = member === null ? null : lists[layer].entries[member];
    node.layer = member === null ? null : layer;
    if (node.entry) paths.push(node);
  }
  return { root, changes: stacked.changes, paths };
}

/**
 * A merged filesystem (`{ digests, merged }`: a `mergeLayers` answer and
 * the layer digests it was merged from) as the layer module's `compare`
 * takes a side: `{ digests, paths }`, `paths` the nodes a member names,
 * in ferry-core's order.
 */
export function comparedSide({ digests, merged }) {
  return { digests, paths: merged.paths };
}

/**
 * Two filesystems side by side (`comparedSide` answers) and ferry-core's
 * comparison of them (`compared`, the layer module's `compare(a, b)`
 * answer): `{ layers, files }`. `layers`: `shared`, `onlyA`, `onlyB`
 * (digests). `files`: the paths that differ, in order, each `{ path, a, b,
 * how }` (`a` and `b` the nodes, null on the side without the path; `how`
 * as ferry_core::tar::compare decides: "only-a", "only-b", "metadata",
 * "content" or "content?", may differ). The rules are ferry-core's; this
 * only arranges its answer.
 */
export function compareFilesystems(a, b, compared) {
  const { shared, onlyA, onlyB } = compared.layers;
  const layers = {
    shared: shared.map((i) => a.digests[i]),
    onlyA: onlyA.map((i) => a.digests[i]),
    onlyB: onlyB.map((i) => b.digests[i]),
  };
  const files = compared.files.map(({ a: i, b: j, how }) => {
    const x = i === null ? null : a.paths[i], y = j === null ? null : b.paths[j];
    return { path: (x ?? y).path, a: x, b: y, how };
  });
  return { layers, files };
}
