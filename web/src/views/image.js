// An image manifest: its config and layers, and the config's history
// beside the layers it created.

import { decoder, formatSize } from "../format.js";
import { historyRows } from "../history.js";
import { $, h, labelCells, show } from "./dom.js";
import { jsonNodes, rawLink } from "./document.js";
import { digestCell } from "./layout.js";

export function renderImage(app, ins) {
  const rows = [];
  if (ins.config) {
    rows.push(h("tr", {}, h("td", {}, "–"), h("td", {}, "config"), h("td", {}, ins.config.mediaType || "(none)"),
      digestCell(app, ins.config, "config"), h("td", { class: "num" }, formatSize(ins.config.size))));
  }
  ins.layers.forEach((l, i) => {
    rows.push(h("tr", { class: "layer" }, h("td", {}, String(i)), h("td", {}, l.emptyLayer ? "layer (empty)" : "layer"),
      h("td", {}, l.mediaType || "(none)"), digestCell(app, l, "layer"), h("td", { class: "num" }, formatSize(l.size))));
  });
  $("image-table").tBodies[0].replaceChildren(...rows);
  labelCells($("image-table"));
  $("config-view").hidden = true;
  $("config-raw").hidden = true;
  $("image-total").textContent = ins.totalSize === null ? "unknown (schema 1 records no sizes)" : formatSize(ins.totalSize);
  show("image", true);
}

/** Shows a config's exact text below the table, its media types explained, with a link to its raw bytes. */
export function showConfigText(bytes, digest = "config") {
  $("config-raw").replaceChildren(rawLink(bytes, digest.replace(":", "-"), "Raw bytes of the config"));
  $("config-raw").hidden = false;
  $("config-view").replaceChildren(...jsonNodes(bytes, () => {}));
  $("config-view").hidden = false;
  $("config-view").focus();
}

export function renderHistory(app, ins) {
  const { state } = app;
  show("history", false);
  if (!ins.config?.digest || !Array.isArray(ins.layers)) return;
  const failed = state.layout?.failed?.get(ins.config.digest);
  const bytes = app.actions.blobAtHand(ins.config.digest);
  if (!bytes) {
    if (failed || state.layout?.remote) {
      $("history-note").textContent = failed ? `The config could not be read: ${failed}` : "Reading the config through ferry serve…";
      $("history-table").tBodies[0].replaceChildren();
      $("history-diagnostics").replaceChildren();
      show("history", true);
    }
    return;
  }
  let config;
  try {
    config = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    $("history-note").textContent = `The config ${ins.config.digest} is not JSON (${e.message}), so it has no history to show.`;
    $("history-table").tBodies[0].replaceChildren();
    $("history-diagnostics").replaceChildren();
    show("history", true);
    return;
  }
  const { rows, problems } = historyRows(config, ins.layers);
  $("history-note").textContent = `From the config ${ins.config.digest}: ${Array.isArray(config?.history) ? config.history.length : 0} history entries, ${ins.layers.length} layers.`;
  $("history-diagnostics").replaceChildren(...problems.map((p) =>
    h("li", { class: "diagnostic history-mismatch" }, h("span", { class: "warning" }, "warning"), " ", p)));
  $("history-table").tBodies[0].replaceChildren(...rows.map((r) => {
    const layer = r.layer === null || r.layer < 0 ? null : ins.layers[r.layer];
    const what = r.entry ? (r.entry.created_by ?? r.entry.comment ?? "(not recorded)") : "(no history entry)";
    return h("tr", { class: r.layer === null ? "no-layer" : "with-layer" },
      h("td", {}, r.step === null ? "–" : String(r.step)),
      h("td", {}, h("code", {}, what)),
      h("td", {}, r.entry?.created ?? ""),
      h("td", {}, r.layer === null ? "no layer (empty_layer)" : layer ? h("span", {}, `#${r.layer} `, h("code", {}, layer.digest)) : "missing: the manifest has no more layers"),
      h("td", { class: "num" }, layer ? formatSize(layer.size) : ""));
  }));
  labelCells($("history-table"));
  show("history", true);
}
