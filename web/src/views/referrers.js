// A registry manifest's referrers and the signature policy's verdict for
// the image, as ferry serve answers them (api/referrers, api/verdict).
// Display only: what is listed, and whether the image is allowed, are
// ferry's decisions, made in Rust.

import { formatSize } from "../format.js";
import { currentDigest, showingRegistry } from "../state.js";
import { $, annotationList, h, labelCells, show } from "./dom.js";

export function renderReferrers(app) {
  const { state } = app;
  if (!showingRegistry(state)) return;
  const lay = state.layout;
  renderVerdict(app.actions.verdictAtHand(lay));
  const digest = currentDigest(state);
  const listing = app.actions.referrersAtHand(lay, digest);
  const rows = listing.status === "done" ? listing.value : [];
  const shown = digest ?? "this manifest";
  $("referrers-note").textContent =
    listing.status === "reading" ? `Listing the referrers of ${shown} through ferry serve…`
    : listing.status === "error" ? `The referrers could not be listed: ${listing.error}`
    : rows.length === 0 ? `Nothing refers to ${shown}.`
    : `${rows.length} referrer${rows.length === 1 ? "" : "s"}; a digest opens its manifest.`;
  $("referrers-note").className = listing.status === "error" ? "note bad" : "note";
  $("referrers-table").tBodies[0].replaceChildren(...rows.map((r) => {
    const link = h("a", { href: "#", class: "digest-link referrer-link", "data-digest": r.digest, "aria-label": `Open referrer ${r.digest}` }, r.digest);
    link.onclick = (e) => { e.preventDefault(); app.actions.openDigest(r.digest); };
    const of = r.depth > 1 || (digest && r.subject !== digest) ? h("div", { class: "note" }, `refers to ${r.subject}`) : null;
    return h("tr", { class: "referrer" },
      h("td", {}, r.artifactType ?? "(none)"),
      h("td", {}, r.mediaType),
      h("td", {}, h("code", {}, link), of),
      h("td", { class: "num" }, formatSize(r.size)),
      h("td", {}, annotationList(r.annotations, `Annotations of referrer ${r.digest}`) ?? ""));
  }));
  $("referrers-table").hidden = rows.length === 0;
  labelCells($("referrers-table"));
  show("referrers", true);
}

/** The policy line: allowed or refused, and each judged image's reason. */
function renderVerdict(verdict) {
  const policy = $("policy");
  const reasons = [];
  if (verdict.status === "reading") {
    policy.replaceChildren(h("strong", {}, "Policy: "), "asking ferry serve…");
  } else if (verdict.status === "error") {
    policy.replaceChildren(h("strong", {}, "Policy: "), h("span", { id: "policy-verdict" }, `not judged: ${verdict.error}`));
  } else {
    const { allowed, images } = verdict.value;
    policy.replaceChildren(h("strong", {}, "Policy: "),
      h("span", { id: "policy-verdict", class: allowed ? "ok" : "bad" }, allowed ? "✓ allowed" : "✗ refused"),
      " by the policy ferry serve was started with");
    for (const i of images) {
      reasons.push(h("li", { class: i.allowed ? "policy-allowed" : "policy-refused" },
        h("code", {}, i.image), i.allowed ? ` is allowed (scope ${i.scope || "default"})` : `: ${i.reason}`));
    }
  }
  $("policy-reasons").replaceChildren(...reasons);
}
