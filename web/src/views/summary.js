// The summary (media types, digest, size) and the validation diagnostics.

import { atPointer, decoder, formatSize } from "../format.js";
import { $, h, kv, show } from "./dom.js";

/**
 * Renders the summary and the diagnostics of `bytes` and returns ferry-core's
 * inspection (null when it cannot inspect them).
 */
export function renderSummary(app, bytes) {
  const { ferry, state } = app;
  let digest = null, digestError = null;
  try { digest = ferry.digest(bytes); } catch (e) { digestError = e.message; }
  const detected = ferry.detectMediaType(bytes);
  let inspection = null, inspectError = null;
  try { inspection = ferry.inspect(bytes); } catch (e) { inspectError = e.message; }
  const report = ferry.validate(bytes);

  const expected = $("expected").value.trim();
  let check = null;
  if (expected && digest) {
    check = expected === digest
      ? h("span", { class: "ok", id: "digest-check" }, "✓ matches the expected digest")
      : h("span", { class: "bad", id: "digest-check" }, `✗ does not match the expected ${expected}`);
  } else if (expected) {
    check = h("span", { class: "bad", id: "digest-check" }, "✗ no digest to compare");
  }
  const entries = [
    ["Declared media type", report.declaredMediaType ?? "(none: no mediaType member)", { id: "declared-type" }],
    ["Detected media type", detected || "(not recognised)", { id: "detected-type" }],
  ];
  if (inspection) entries.push(["Read as", inspection.mediaType, { id: "read-as" }]);
  entries.push(["Digest", digest ? h("span", {}, h("code", { id: "digest" }, digest), check ? " " : "", check) : h("span", { class: "bad", id: "digest" }, digestError)]);
  entries.push(["Plain sha256 of the bytes", h("code", { id: "sha256" }, "…")]);
  entries.push(["Size", formatSize(bytes.length), { id: "size" }]);
  if (inspection && inspection.imageId) entries.push(["Image ID", h("code", {}, inspection.imageId)]);
  if (inspectError) entries.push(["Cannot inspect", inspectError, { class: "bad", id: "inspect-error" }]);
  kv($("summary-list"), entries);
  show("summary", true);
  $("summary").dataset.input = state.fileName ?? state.source;
  plainSha256(state, bytes);

  // Validation.
  let doc;
  try { doc = JSON.parse(decoder.decode(bytes)); } catch { doc = undefined; }
  const errors = report.diagnostics.filter((d) => d.severity === "error").length;
  const warnings = report.diagnostics.length - errors;
  $("validity").replaceChildren(report.valid
    ? h("span", { class: "ok" }, `Valid${warnings ? ` (${warnings} warning${warnings > 1 ? "s" : ""})` : ""}`)
    : h("span", { class: "bad" }, `Invalid: ${errors} error${errors > 1 ? "s" : ""}${warnings ? `, ${warnings} warning${warnings > 1 ? "s" : ""}` : ""}`));
  $("diagnostic-list").replaceChildren(...report.diagnostics.map((d) => {
    const value = doc === undefined ? undefined : atPointer(doc, d.pointer);
    let shown = value === undefined ? null : JSON.stringify(value);
    if (shown && shown.length > 120) shown = shown.slice(0, 117) + "…";
    return h("li", { class: "diagnostic" },
      h("span", { class: d.severity }, d.severity), " at ",
      h("code", { class: "pointer" }, d.pointer === "" ? "(whole document)" : d.pointer), ": ",
      d.message,
      shown !== null ? h("div", { class: "note" }, "value there: ", h("code", {}, shown)) : null);
  }));
  show("diagnostics", true);
  return inspection;
}

// The plain sha256 of the bytes, shown beside the manifest digest; the two
// differ only for signed schema 1.
async function plainSha256(state, bytes) {
  const token = ++state.shaToken;
  let text;
  try {
    const buf = await crypto.subtle.digest("SHA-256", bytes);
    text = "sha256:" + [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  } catch {
    text = "(unavailable: this page is not in a secure context)";
  }
  if (token !== state.shaToken) return;
  const el = $("sha256");
  if (el) el.textContent = text;
}
