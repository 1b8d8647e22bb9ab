// The layout bar: what is loaded, and the trail followed through it.

import { shownLayout } from "../state.js";
import { $, h, show } from "./dom.js";

export function renderLayout(app) {
  const { state } = app;
  const lay = state.layout;
  show("layout", !!shownLayout(state));
  if (!lay) return;
  $("layout-info").textContent = lay.remote
    ? `Registry image ${lay.name}, read through ferry serve.`
    : `${lay.kind} “${lay.name}”: ${lay.blobs.size} blobs, read in this browser.`;
  $("trail").replaceChildren(...state.trail.map((step, i) => h("li", {},
    i === state.trail.length - 1
      ? h("span", { "aria-current": "page" }, step.label)
      : Object.assign(h("button", { type: "button", class: "back" }, step.label), { onclick: () => app.actions.goBackTo(i) }))));
}

/** A digest cell: the digest, and a button to open it when the shown layout has it. */
export function digestCell(app, desc, kind) {
  const cell = h("td", {}, h("code", {}, desc.digest));
  const lay = shownLayout(app.state);
  if (!lay) return cell;
  if (!lay.remote && !lay.blobs.has(desc.digest)) {
    cell.append(h("div", { class: "note" }, "not in this layout"));
  } else if (kind === "manifest") {
    const b = h("button", { type: "button", class: "open", "aria-label": `Open ${desc.digest}` }, "open");
    b.onclick = () => app.actions.openDigest(desc.digest);
    cell.append(b);
  } else if (kind === "layer") {
    const b = h("button", { type: "button", class: "open", "aria-label": `Files of layer ${desc.digest}` }, "files");
    b.onclick = () => app.actions.openLayer(desc.digest);
    cell.append(b);
  } else if (kind === "config") {
    const b = h("button", { type: "button", class: "open", "aria-label": `Show config ${desc.digest}` }, "show");
    b.onclick = () => app.actions.showConfig(lay, desc.digest);
    cell.append(b);
  }
  return cell;
}
