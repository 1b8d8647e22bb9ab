// A layer as a file tree (sizes, modes, owners, link targets, whiteouts
// as deletions) and one of its files as text or hex.

import { formatSize } from "../format.js";
import { modeText, totalSize, treeRows } from "../tree.js";
import { $, h, setStatus, show } from "./dom.js";

const MAX_ROWS = 50_000;

/** Who owns an entry: `name:group (uid:gid)`, or the numbers alone. */
function owner(e) {
  if (!e) return "";
  const ids = `${e.uid}:${e.gid}`;
  return e.uname || e.gname ? `${e.uname || e.uid}:${e.gname || e.gid} (${ids})` : ids;
}

/** The name cell of a tree row: the name, what a link points to, what a whiteout deletes. */
function nameCell(open, node, depth) {
  const e = node.entry;
  const parts = [];
  if (node.deleted && !e) {
    parts.push(h("del", {}, node.name), " ", h("span", { class: "whiteout" }, `deleted by ${node.deleted.name} (whiteout): hidden from the layers below`));
  } else if (e?.type === "file" || e?.type === "hardlink") {
    const b = h("button", { type: "button", class: "file-open link", "data-path": node.path, "aria-label": `Open ${node.path}` }, node.name);
    b.onclick = () => open(node);
    parts.push(b);
  } else parts.push(h("span", {}, node.name));
  if (e?.type === "symlink") parts.push(" → ", h("code", { class: "link-target" }, e.linkname));
  if (e?.type === "hardlink") parts.push(" ⇒ ", h("code", { class: "link-target" }, e.linkPath ?? e.linkname), " (hard link)");
  if (e?.type === "dir" || (!e && node.children.size)) parts.push("/");
  if (node.opaque) parts.push(" ", h("span", { class: "whiteout" }, "opaque: hides what the layers below have here"));
  if (node.deleted && e) parts.push(" ", h("span", { class: "whiteout" }, `also deleted by ${node.deleted.name}`));
  return h("td", { class: "tree-name", style: `padding-left: ${0.5 + depth * 1.2}rem` }, ...parts);
}

/**
 * Table rows for tree `rows` (tree.js): mode, owner, size, the name
 * (`open(node)` when a file's name is clicked), and, given `layerCell`,
 * a last cell saying which layer the entry comes from.
 */
export function treeBody(rows, open, layerCell = null) {
  const body = document.createDocumentFragment();
  for (const { node, depth } of rows) {
    const e = node.entry;
    const tr = h("tr", { class: node.deleted && !e ? "deleted" : e?.type ?? "dir", "data-path": node.path },
      h("td", { class: "mode" }, node.deleted && !e ? "(whiteout)" : h("code", {}, modeText(e))),
      h("td", {}, owner(e)),
      h("td", { class: "num" }, e?.type === "file" ? formatSize(e.size) : e?.type === "dir" || (!e && !node.deleted) ? formatSize(totalSize(node)) : ""),
      nameCell(open, node, depth));
    if (layerCell) tr.append(layerCell(node));
    body.append(tr);
  }
  return body;
}

/** Renders `state.layerView`: reading, failed, or the tree (filtered by the filter box). */
export function renderLayer(app) {
  const view = app.state.layerView;
  show("layer", !!view);
  if (!view) return;
  $("layer-h").textContent = `Layer ${view.digest}`;
  $("layer-raw").onclick = (e) => { e.preventDefault(); app.actions.downloadLayer(); };
  $("layer").dataset.state = view.status;
  $("layer").dataset.digest = view.digest;
  const problems = [...(view.problems ?? [])];
  if (view.error) problems.unshift(view.error);
  $("layer-problems").replaceChildren(...problems.map((p) => h("li", { class: "bad" }, p)));
  if (view.status === "reading") {
    $("layer-note").textContent = "Reading the layer…";
    $("layer-table").tBodies[0].replaceChildren();
    show("file-view", false);
    return;
  }
  if (view.status === "error") {
    $("layer-note").textContent = "The layer could not be listed.";
    $("layer-table").tBodies[0].replaceChildren();
    show("file-view", false);
    return;
  }
  const started = performance.now();
  const filter = $("layer-filter").value.trim();
  let rows = treeRows(view.tree.root);
  if (filter) rows = rows.filter((r) => r.node.path.includes(filter));
  const shown = rows.slice(0, MAX_ROWS);
  const body = treeBody(shown, (node) => app.actions.openFile(node.path));
  $("layer-table").tBodies[0].replaceChildren(body);
  const files = view.entries.filter((x) => x.type === "file").length;
  const more = rows.length > shown.length ? ` (the first ${MAX_ROWS} of ${rows.length} shown; filter to see the rest)` : "";
  $("layer-note").textContent = `${view.format === "tar" ? "uncompressed" : `${view.format}-compressed`} tar: ${view.entries.length} members, ${files} files, ${formatSize(totalSize(view.tree.root))}${filter ? `; ${rows.length} match “${filter}”` : ""}${more}. Listed in ${Math.round(view.listMs)} ms, drawn in ${Math.round(performance.now() - started)} ms.`;
  renderFile(app);
}

/** A hex dump: offset, 16 bytes, their ASCII. */
export function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

/** The open file of the layer: text (when it is UTF-8 without NULs) or hex, its size, a download. */
export function renderFile(app) {
  const file = app.state.layerView?.file;
  show("file-view", !!file);
  if (!file) return;
  $("file-h").textContent = file.path;
  $("file-view").dataset.path = file.path;
  if (file.error) {
    $("file-note").textContent = file.error;
    $("file-note").className = "bad";
    $("file-content").textContent = "";
    return;
  }
  if (!file.bytes) {
    $("file-note").textContent = "Reading…";
    $("file-note").className = "note";
    $("file-content").textContent = "";
    return;
  }
  let text = null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(file.bytes);
    if (text.includes("\0")) text = null;
  } catch { text = null; }
  const asHex = file.mode === "hex" || text === null;
  $("file-content").textContent = asHex ? hexDump(file.bytes.subarray(0, 64 * 1024)) : text;
  $("file-content").dataset.mode = asHex ? "hex" : "text";
  const shown = asHex ? Math.min(file.bytes.length, 64 * 1024) : file.bytes.length;
  $("file-note").className = "note";
  $("file-note").textContent = `${formatSize(file.size)}${shown < file.size ? `; the first ${formatSize(shown)} shown` : ""}${text === null ? " (not UTF-8 text: shown in hex)" : ""}.`;
  $("file-text").disabled = text === null || !asHex;
  $("file-hex").disabled = asHex;
}

/** Says what the layer reading came to. */
export function layerStatus(view) {
  if (view.status === "error") setStatus(view.error, true);
  else if (view.status === "done") setStatus(`Listed layer ${view.digest}: ${view.entries.length} members.`);
}
