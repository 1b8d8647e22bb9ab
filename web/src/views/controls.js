// The form controls that shape the view (platform, conversion, expected
// digest, copy plan), read into and set from plain values; the link (see
// ../link.js) is made from what they hold.

import { $, h } from "./dom.js";

/** The copy plan's chosen selection: "system" | "all" | "instances". */
export function planSelection() {
  return document.querySelector("input[name=plan-sel]:checked")?.value ?? "system";
}

/** The instances chosen for the copy plan: the checked boxes, or a link's choice until the boxes exist. */
export function chosenInstances(state) {
  const boxes = [...document.querySelectorAll("#plan-instances input[type=checkbox]")];
  return boxes.length ? boxes.filter((b) => b.checked).map((b) => b.value) : (state.planWanted ?? []);
}

/** The controls' part of a link's view (see writeLink). */
export function controlsView(state) {
  return {
    platform: $("platform").value,
    convertTo: $("convert-to").dataset.chosen ? $("convert-to").value : null,
    defaultPlatform: $("default-platform").value,
    expected: $("expected").value,
    destination: $("plan-dest").dataset.chosen ? $("plan-dest").value : null,
    selection: planSelection(),
    instances: chosenInstances(state),
    strip: $("plan-strip").checked,
    layerFilter: $("layer-filter").value.trim(),
    fsFilter: $("fs-filter").value.trim(),
  };
}

/** Sets the controls a link names (see readLink); the instances wait in state until their boxes exist. */
export function applyControls(state, link) {
  if (link.p !== null) $("platform").value = link.p;
  if (link.to === "oci-index" || link.to === "docker-list") { $("convert-to").value = link.to; $("convert-to").dataset.chosen = "1"; }
  if (link.dp !== null) $("default-platform").value = link.dp;
  if (link.e !== null) $("expected").value = link.e;
  if (link.dest !== null && [...$("plan-dest").options].some((o) => o.value === link.dest)) {
    $("plan-dest").value = link.dest;
    $("plan-dest").dataset.chosen = "1";
  }
  if (link.sel !== null) for (const r of document.querySelectorAll("input[name=plan-sel]")) r.checked = r.value === link.sel;
  $("plan-strip").checked = link.strip === "1";
  state.planWanted = link.inst ? link.inst.split(",") : null;
  $("layer-filter").value = link.lq ?? "";
  $("fs-filter").value = link.fq ?? "";
}

/** The registry row: enabled under ferry serve, otherwise disabled with the reason. */
export function renderRegistryRow(proxy) {
  $("registry-ref").disabled = $("registry-read").disabled = !proxy.available;
  $("registry-note").replaceChildren(...(proxy.available
    ? ["Read through ", h("code", {}, "ferry serve"), " on this machine, with its credentials (they never reach this page). Read only."]
    : ["Unavailable: browsers cannot read most registries directly, so this needs the page served by ",
      h("code", {}, "ferry serve"), ` (this host is a plain static one: ${proxy.why}). Pasted and dropped input still works, offline.`]));
}

/** Puts the link to the view in the address bar (without a new history entry) and the share link. */
export function renderLink(hash) {
  if (hash !== location.hash && !(hash === "#" && !location.hash)) history.replaceState(null, "", hash);
  $("share").href = hash;
}
