// The whole page for the state: the summary and diagnostics, then an
// image's tables or a list's, and the copy plan.

import { jsonNodes, rawLink } from "./document.js";
import { $, setStatus, show } from "./dom.js";
import { renderCompareSection } from "./filesystem.js";
import { renderHistory, renderImage } from "./image.js";
import { renderList } from "./list.js";
import { renderPlan } from "./plan.js";
import { renderReferrers } from "./referrers.js";
import { renderSummary } from "./summary.js";

export function renderPage(app) {
  const { state } = app;
  if (!app.ferry) return;
  const bytes = state.bytes;
  // An empty file is something to inspect; an empty text box is not.
  const any = bytes.length > 0 || state.source !== "paste";
  for (const id of ["summary", "document", "referrers", "diagnostics", "image", "list", "compare", "choose", "convert", "plan"]) show(id, false);
  if (!any) { setStatus("Ready: paste a manifest or choose a file."); return; }
  setStatus(`Inspected ${bytes.length} bytes.`);

  const inspection = renderSummary(app, bytes);
  renderDocument(app, bytes, inspection);
  if (!inspection) return;
  renderReferrers(app);
  if (Array.isArray(inspection.manifests)) renderList(app, bytes, inspection);
  else {
    renderImage(app, inspection);
    renderHistory(app, inspection);
  }
  renderCompareSection(app, inspection);
  renderPlan(app, bytes, inspection);
}

/** The note under the text box: where the shown bytes came from. */
export function renderSourceNote(state) {
  const { bytes, source, fileName } = state;
  const note = $("source-note");
  if (source === "file") note.textContent = `Read ${fileName} (${bytes.length} bytes) in this browser; its exact bytes are inspected until you edit the text.`;
  else if (source === "layout" && state.layout?.remote) note.textContent = `Showing ${fileName} from the registry (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else if (source === "layout") note.textContent = `Showing ${fileName} from the layout (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else if (source === "url") note.textContent = `Restored from the link (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else note.textContent = "…or drop a file anywhere on this box, or choose one:";
}

/**
 * The shown document's exact text with its digests as links: a list's
 * entries open as manifests, an image's config below its table, its
 * layers as file trees; any other digest (a subject) as a manifest.
 */
function renderDocument(app, bytes, ins) {
  const { actions, state } = app;
  const kinds = new Map();
  for (const m of ins?.manifests ?? []) kinds.set(m.digest, "manifest");
  if (ins?.config?.digest) kinds.set(ins.config.digest, "config");
  for (const l of ins?.layers ?? []) if (l.digest) kinds.set(l.digest, "layer");
  const open = (digest) => {
    const lay = state.layout;
    if (!lay || state.source !== "layout") {
      setStatus(`To open ${digest}, load the layout, archive or folder it is in, or read the image from a registry.`, true);
      return;
    }
    const kind = kinds.get(digest) ?? "manifest";
    if (kind === "config") actions.showConfig(lay, digest);
    else if (kind === "layer") actions.openLayer(digest);
    else actions.openDigest(digest);
  };
  const what = { manifest: "Open manifest", config: "Show config", layer: "Files of layer" };
  $("document-json").replaceChildren(...jsonNodes(bytes, open, (d) => `${what[kinds.get(d) ?? "manifest"]} ${d}`));
  $("document-raw").replaceChildren(rawLink(bytes, (state.fileName ?? "document").replace(/[/:]/g, "-")));
  show("document", true);
}
