// The copy plan preview: the selection, and ferry-core's plan as tables.

import { formatSize } from "../format.js";
import { guessPlatform, platformText } from "../platform.js";
import { askPlan, blobOperations, OPERATION_TEXT, planOptions, plannedManifests, planVerdict } from "../plan.js";
import { showingRegistry } from "../state.js";
import { chosenInstances, planSelection } from "./controls.js";
import { $, h, kv, labelCells, show } from "./dom.js";

export function renderPlan(app, bytes, ins) {
  const { ferry, state } = app;
  const isList = Array.isArray(ins.manifests);
  show("plan-selection", isList);
  if (isList) {
    // One checkbox per entry, kept checked across renders.
    const before = chosenInstances(state);
    const wanted = new Set(state.planWanted ?? before);
    state.planWanted = null;
    $("plan-instances").replaceChildren(...ins.manifests.map((m, i) => h("li", {},
      h("label", { class: "choice" },
        Object.assign(h("input", { type: "checkbox", value: m.digest }), { checked: wanted.has(m.digest) }),
        ` #${i} ${platformText(m.platform)} `, h("code", {}, m.digest.slice(0, 19))))));
  }
  const selection = isList ? planSelection() : "all";
  const options = planOptions({
    isList, selection, destination: $("plan-dest").value, mediaType: state.mediaType,
    platform: selection === "system" ? ($("platform").value.trim() || guessPlatform(navigator)) : null,
    digests: selection === "instances" ? chosenInstances(state) : null, strip: $("plan-strip").checked,
  });
  let answer;
  try {
    answer = askPlan(ferry.planCopy, bytes, options, app.actions.instancesAtHand);
  } catch (e) {
    $("plan-verdict").replaceChildren(h("span", { class: "bad", id: "plan-error" }, e.message));
    for (const id of ["plan-manifests", "plan-blobs"]) $(id).tBodies[0].replaceChildren();
    $("plan-missing").replaceChildren();
    $("plan-summary").replaceChildren();
    $("plan-json").textContent = "";
    show("plan", true);
    return;
  }
  const top = answer.top ?? { kind: "nested" };
  $("plan-verdict").replaceChildren(h("span", { class: "ok", id: "plan-top" }, planVerdict(top, options)));
  const remote = showingRegistry(state);
  $("plan-missing").replaceChildren(...answer.missing.map((d) => {
    const failed = remote ? state.layout.failed?.get(d) : null;
    return h("li", { class: failed ? "missing bad" : "missing" }, "The manifest of instance ", h("code", {}, d),
      failed ? ` could not be read: ${failed}` : remote ? " is being read through ferry serve…"
        : " is not at hand (load the layout or read the image from a registry to plan it).");
  }));
  const ops = blobOperations(answer);
  const sum = answer.summary;
  $("plan-manifests").tBodies[0].replaceChildren(...plannedManifests(answer, top).map((m) =>
    h("tr", { class: "planned-manifest" }, h("td", {}, m.role), h("td", {}, h("code", {}, m.sourceDigest)),
      h("td", {}, m.mediaType, m.fallbacks.length ? h("div", { class: "note" }, `then ${m.fallbacks.join(", ")}`) : null),
      h("td", {}, m.digest ? h("code", {}, m.digest) : "new (converted or rewritten)"))));
  labelCells($("plan-manifests"));
  $("plan-blobs").tBodies[0].replaceChildren(...(sum ? sum.blobs : []).map((b) => h("tr", { class: "planned-blob" },
    h("td", {}, h("code", {}, b.digest)), h("td", {}, b.mediaType), h("td", {}, OPERATION_TEXT[ops.get(b.digest)] ?? ops.get(b.digest) ?? ""),
    h("td", {}, String(b.usedBy.length)), h("td", { class: "num" }, formatSize(b.size)))));
  labelCells($("plan-blobs"));
  kv($("plan-summary"), sum ? [
    ["Bytes to copy", formatSize(sum.bytesToCopy) + (sum.sizesIncomplete ? " (at least: schema 1 records no sizes)" : ""), { id: "plan-bytes" }],
    ["Blobs", String(sum.blobs.length), { id: "plan-blob-count" }],
    ["Manifests written", String(sum.manifests.length)],
    ...($("plan-dest").value === "docker" ? [["Registry requests (at least)", String(sum.registryRequests)]] : []),
  ] : [["Summary", "waits for the instance manifests above", { class: "note" }]]);
  $("plan-json").textContent = sum ? JSON.stringify(sum, null, 2) : "";
  show("plan", true);
}
