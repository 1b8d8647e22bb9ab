// A JSON document as its exact text, with every digest a link that opens
// it and every media type explained on hover, and the raw bytes one click
// away. Text is always text, never HTML.

import { decoder, isDigest, MEDIA_TYPES } from "../format.js";
import { h } from "./dom.js";

/** A JSON string token, and whether a `:` follows it (a member name). */
const TOKEN = /"(?:[^"\\\u0000-\u001f]|\\.)*"(\s*:)?/g;

/**
 * The exact text of `bytes` as nodes: a digest string after a `digest`
 * member is a link (`open(digest)` when clicked; `label(digest)` names it
 * for assistive technology), a string after `mediaType` carries its
 * explanation as a title.
 */
export function jsonNodes(bytes, open, label = (d) => `Open ${d}`) {
  const text = decoder.decode(bytes);
  const out = [];
  let at = 0, key = null;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    at = m.index + m[0].length;
    const quoted = m[0].slice(0, m[0].length - (m[1]?.length ?? 0));
    let value;
    try { value = JSON.parse(quoted); } catch { value = null; }
    if (m[1]) { key = value; out.push(m[0]); continue; }
    if (key === "digest" && typeof value === "string" && isDigest(value)) {
      const a = h("a", { href: "#", class: "digest-link", "data-digest": value, "aria-label": label(value) }, quoted);
      a.onclick = (e) => { e.preventDefault(); open(value); };
      out.push(a);
    } else if ((key === "mediaType" || key === "artifactType") && typeof value === "string") {
      out.push(h("span", { class: "media-type", title: MEDIA_TYPES[value] ?? "a media type ferry does not describe" }, quoted));
    } else out.push(quoted);
    key = null;
  }
  out.push(text.slice(at));
  return out;
}

/** A link that downloads `bytes` exactly as they are, named `name`. */
export function rawLink(bytes, name, text = "Raw bytes") {
  const a = h("a", { class: "raw-link", download: name, href: "#" }, text);
  a.onclick = () => { a.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" })); };
  return a;
}
