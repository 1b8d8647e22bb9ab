// The image's filesystem (all layers applied: what a container sees, each
// file with the layer it comes from, and what each layer adds, changes and
// deletes), and two images of a list side by side.

import { formatSize } from "../format.js";
import { LIMITS } from "../layer.js";
import { platformText } from "../platform.js";
import { showingRegistry } from "../state.js";
import { treeRows } from "../tree.js";
import { $, h, show } from "./dom.js";
import { treeBody } from "./layer.js";

const MAX_ROWS = 50_000;
const MAX_PATHS = 500;

/** A short digest: `sha256:0123456789ab`. */
const short = (d) => d.slice(0, 19);

/** Paths in a <details>, at most MAX_PATHS. */
function pathList(label, paths, cls) {
  if (!paths.length) return h("span", { class: "note" }, "none");
  const shown = paths.slice(0, MAX_PATHS);
  return h("details", { class: cls }, h("summary", {}, `${paths.length} ${label}`),
    h("ul", { class: "paths" }, ...shown.map((p) => h("li", {}, h("code", {}, p)))),
    paths.length > shown.length ? h("p", { class: "note" }, `…and ${paths.length - shown.length} more`) : null);
}

export function renderFilesystem(app) {
  const view = app.state.fsView;
  show("filesystem", !!view);
  if (!view) return;
  $("filesystem").dataset.state = view.status;
  $("fs-problems").replaceChildren(...(view.error ? [h("li", { class: "bad" }, view.error)] : []));
  if (view.status !== "done") {
    $("fs-note").textContent = view.status === "reading" ? `Reading layer ${view.read + 1} of ${view.digests.length}…` : "The filesystem could not be put together.";
    $("fs-changes").tBodies[0].replaceChildren();
    $("fs-table").tBodies[0].replaceChildren();
    return;
  }
  const started = performance.now();
  $("fs-changes").tBodies[0].replaceChildren(...view.merged.changes.map((c, i) => h("tr", { "data-layer": String(i) },
    h("td", {}, `#${i}`), h("td", {}, h("code", {}, view.digests[i])),
    h("td", {}, pathList("added", c.added, "added")), h("td", {}, pathList("changed", c.changed, "changed")),
    h("td", {}, pathList("deleted", c.deleted, "deleted")))));
  const filter = $("fs-filter").value.trim();
  let rows = treeRows(view.merged.root);
  if (filter) rows = rows.filter((r) => r.node.path.includes(filter));
  const shown = rows.slice(0, MAX_ROWS);
  const open = (node) => app.actions.openLayer(view.digests[node.layer], node.path);
  const layerCell = (node) => h("td", { class: "layer-of" }, node.layer === null || node.layer === undefined ? "" : `#${node.layer} ${short(view.digests[node.layer])}`);
  $("fs-table").tBodies[0].replaceChildren(treeBody(shown, open, layerCell));
  const more = rows.length > shown.length ? ` (the first ${MAX_ROWS} of ${rows.length} shown)` : "";
  $("fs-note").textContent = `${view.digests.length} layers applied in order: ${rows.length} paths${filter ? ` matching “${filter}”` : ""}${more}. Read in ${Math.round(view.readMs)} ms, drawn in ${Math.round(performance.now() - started)} ms.`;
}

/**
 * The differences section: a list's two entries, and (for a registry
 * image or list) another reference to compare with; then the result.
 */
export function renderCompareSection(app, ins) {
  const isList = Array.isArray(ins?.manifests);
  const remote = showingRegistry(app.state);
  if (isList) renderCompareChoices(ins);
  else show("compare-controls", false);
  show("compare-with-row", remote);
  $("compare-this").textContent = isList ? "entry A" : "this image";
  show("compare", (isList && ins.manifests.length > 1) || remote);
  renderCompare(app);
}

/** The compare controls: the list's entries in both selects. */
export function renderCompareChoices(ins) {
  const options = () => ins.manifests.map((m, i) => h("option", { value: m.digest }, `#${i} ${platformText(m.platform)} ${short(m.digest)}`));
  for (const [id, at] of [["compare-a", 0], ["compare-b", 1]]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(...options());
    if (ins.manifests.some((m) => m.digest === keep)) select.value = keep;
    else if (ins.manifests[at]) select.value = ins.manifests[at].digest;
  }
  show("compare-controls", ins.manifests.length > 1);
}

const HOW = {
  "only-a": "only in A",
  "only-b": "only in B",
  metadata: "differs (type, size, mode, owner or link target)",
  content: "same size and mode, different content (SHA-256)",
  "content?": `same size and mode, from different layers, too large to hash (over ${LIMITS.hash / 1024 / 1024} MiB): the content may differ`,
};

/** What an entry is, briefly: its size, or where a link points. */
function what(node) {
  if (!node) return "–";
  const e = node.entry;
  if (e.type === "symlink") return `→ ${e.linkname}`;
  if (e.type === "file") return formatSize(e.size);
  return e.type;
}

export function renderCompare(app) {
  const view = app.state.compareView;
  show("compare-result", !!view);
  if (!view) return;
  $("compare-result").dataset.state = view.status;
  $("compare-problems").replaceChildren(...(view.error ? [h("li", { class: "bad" }, view.error)] : []));
  if (view.status !== "done") {
    $("compare-note").textContent = view.status === "reading" ? "Reading both images' layers…" : "The images could not be compared.";
    $("compare-layers").tBodies[0].replaceChildren();
    $("compare-files").tBodies[0].replaceChildren();
    return;
  }
  const { layers, files } = view.result;
  const size = new Map([...view.a.layers, ...view.b.layers].map((l) => [l.digest, l.size]));
  const sum = (ds) => ds.reduce((n, d) => n + (size.get(d) ?? 0), 0);
  const row = (d, where) => h("tr", { class: where }, h("td", {}, where === "shared" ? "both" : where === "only-a" ? "A only" : "B only"),
    h("td", {}, h("code", {}, d)), h("td", { class: "num" }, formatSize(size.get(d))));
  $("compare-layers").tBodies[0].replaceChildren(...layers.shared.map((d) => row(d, "shared")),
    ...layers.onlyA.map((d) => row(d, "only-a")), ...layers.onlyB.map((d) => row(d, "only-b")));
  $("compare-files").tBodies[0].replaceChildren(...files.slice(0, MAX_ROWS).map((f) => h("tr", { class: f.how, "data-path": f.path },
    h("td", {}, h("code", {}, f.path)), h("td", {}, HOW[f.how]), h("td", { class: "num" }, what(f.a)), h("td", { class: "num" }, what(f.b)))));
  $("compare-note").textContent = `A: ${view.a.label}, ${view.a.layers.length} layers, ${formatSize(sum(view.a.layers.map((l) => l.digest)))}. `
    + `B: ${view.b.label}, ${view.b.layers.length} layers, ${formatSize(sum(view.b.layers.map((l) => l.digest)))}. `
    + `${layers.shared.length} layers shared (${formatSize(sum(layers.shared))}); ${files.length} paths differ.`;
}
