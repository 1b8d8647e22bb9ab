// A manifest list or index: the platform table, which entry this machine
// would get, and the conversion preview.

import { formatSize } from "../format.js";
import { COMMON_PLATFORMS, guessPlatform, platformQuery, platformText } from "../platform.js";
import { $, annotationList, h, kv, labelCells, show } from "./dom.js";
import { digestCell } from "./layout.js";

export function renderList(app, bytes, ins) {
  const { ferry } = app;
  $("platform-table").tBodies[0].replaceChildren(...ins.manifests.map((m, i) =>
    h("tr", {}, h("td", {}, String(i)), h("td", {}, platformText(m.platform)), h("td", {}, m.mediaType || "(none)"),
      digestCell(app, m, "manifest"), h("td", { class: "num" }, formatSize(m.size)),
      h("td", {}, annotationList(m.annotations, `Annotations of entry ${i}`) ?? ""))));
  labelCells($("platform-table"));
  const top = annotationList(ins.annotations, "Annotations of the list");
  $("list-annotations").replaceChildren(...(top ? [h("h3", {}, "Annotations of the list"), top] : []));
  show("list", true);

  // Platform choice.
  const seen = new Set(COMMON_PLATFORMS);
  const own = ins.manifests.map((m) => m.platform).filter(Boolean).map(platformQuery);
  $("platforms").replaceChildren(...[...new Set([...own, ...seen])].map((p) => h("option", { value: p })));
  if (!$("platform").value) $("platform").value = guessPlatform(navigator);
  const wanted = $("platform").value.trim();
  let verdicts = [];
  const choice = $("choice");
  try {
    const c = ferry.chooseInstance(bytes, wanted);
    verdicts = c.explanation;
    choice.replaceChildren(h("span", { class: "ok" }, `${wanted} gets entry ${c.index}: `), h("code", { id: "chosen-digest" }, c.digest));
  } catch (e) {
    verdicts = e.explanation || [];
    choice.replaceChildren(h("span", { class: "bad", id: "choose-error" }, e.message));
  }
  $("verdict-table").tBodies[0].replaceChildren(...verdicts.map((v) =>
    h("tr", { class: v.chosen ? "chosen" : "" }, h("td", {}, String(v.index)), h("td", {}, v.platform ?? "(none)"),
      h("td", { class: v.chosen ? "ok" : v.accepted ? "" : "bad" },
        v.chosen ? "chosen" : v.accepted ? `acceptable (rank ${v.rank})` : "rejected"),
      h("td", {}, h("code", {}, v.digest)), h("td", {}, v.reason))));
  labelCells($("verdict-table"));
  show("choose", true);

  // Conversion preview: by default into the other form.
  const sel = $("convert-to");
  if (!sel.dataset.chosen) sel.value = /oci\.image\.index/.test(ins.mediaType) ? "docker-list" : "oci-index";
  const dp = $("default-platform").value.trim();
  try {
    const conv = ferry.convertList(bytes, sel.value, dp ? { defaultPlatform: dp } : null);
    kv($("convert-summary"), [
      ["Media type", conv.mediaType],
      ["New digest", h("code", { id: "converted-digest" }, conv.digest)],
      ["Size", formatSize(conv.size)],
      ["Digest changes", conv.digest === ins.digest ? "no (the bytes are unchanged)" : "yes: anything that refers to the old digest would no longer match"],
    ]);
    $("loss-list").replaceChildren(...(conv.losses.length
      ? conv.losses.map((l) => h("li", { class: "loss" }, h("span", { class: l.kind === "dropped" ? "bad" : "warning" }, l.kind), " ",
        h("code", { class: "pointer" }, l.pointer), ": ", l.detail))
      : [h("li", { class: "no-loss" }, "Nothing is lost.")]));
    $("converted").textContent = conv.manifest;
    const dl = $("download");
    if (dl.dataset.url) URL.revokeObjectURL(dl.dataset.url);
    dl.dataset.url = URL.createObjectURL(new Blob([conv.manifest], { type: conv.mediaType }));
    dl.href = dl.dataset.url;
  } catch (e) {
    kv($("convert-summary"), [["Cannot convert", e.message, { class: "bad", id: "convert-error" }]]);
    $("loss-list").replaceChildren();
    $("converted").textContent = "";
  }
  show("convert", true);
}
