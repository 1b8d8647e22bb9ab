// Building and filling the page's elements. Text is always text, never HTML.

import { OCI_ANNOTATIONS } from "../format.js";

export const $ = (id) => document.getElementById(id);

/** Builds an element; children are nodes or strings (always text, never HTML). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const show = (id, on) => { $(id).hidden = !on; };

/** Fills a <dl> with [term, value, attributes of the <dd>] entries. */
export function kv(dl, entries) {
  dl.replaceChildren(...entries.flatMap(([k, v, attrs = {}]) => [h("dt", {}, k), h("dd", attrs, v)]));
}

/** Annotations as a <dl>, standard OCI keys explained; null when there are none. */
export function annotationList(ann, label) {
  const keys = Object.keys(ann || {});
  if (!keys.length) return null;
  return h("dl", { class: "ann", "aria-label": label },
    keys.flatMap((k) => [
      h("dt", {}, k),
      h("dd", {}, ann[k], OCI_ANNOTATIONS[k] ? h("span", { class: "explain" }, OCI_ANNOTATIONS[k]) : null),
    ]));
}

/** Copies each column header onto its cells (data-label), for the stacked narrow-screen layout. */
export function labelCells(table) {
  const heads = [...table.tHead.rows[0].cells].map((c) => c.textContent);
  for (const row of table.tBodies[0].rows) [...row.cells].forEach((c, i) => c.setAttribute("data-label", heads[i] ?? ""));
}

/** The status line: what the page did last, or what went wrong. */
export function setStatus(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.className = bad ? "bad" : "";
}
