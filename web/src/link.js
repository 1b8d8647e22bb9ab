// Shared links: the view lives in location.hash (URLSearchParams syntax),
//   m=<base64url of the manifest's exact bytes>  p=<platform>  to=<list format>
//   dp=<default platform for conversion>  e=<expected digest>
//   r=<registry reference, read through ferry serve>  d=<digest followed from it>
//   dest=<copy plan destination kind>  sel=<system|all|instances>
//   inst=<chosen instance digests, comma-separated>  strip=1
//   layer=<the open layer's digest>  file=<the path of the file open in it>
//   fs=1 (the image's filesystem shown)  cmp=<digest A>,<digest B> (two entries compared)
//   with=<another reference the shown image is compared with>
//   lq=<the layer's path filter>  fq=<the filesystem's path filter>  fm=hex (the file shown in hex)
// so a link restores it. Nothing here touches the DOM.

import { fromBase64url, toBase64url } from "./format.js";

/** The parameters of a hash (`#…` or empty); absent ones are null. */
export function readLink(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  return {
    m: params.get("m"),
    p: params.get("p"),
    to: params.get("to"),
    dp: params.get("dp"),
    e: params.get("e"),
    r: params.get("r"),
    d: params.get("d"),
    dest: params.get("dest"),
    sel: params.get("sel"),
    inst: params.get("inst"),
    strip: params.get("strip"),
    layer: params.get("layer"),
    file: params.get("file"),
    fs: params.get("fs"),
    cmp: params.get("cmp"),
    with: params.get("with"),
    lq: params.get("lq"),
    fq: params.get("fq"),
    fm: params.get("fm"),
  };
}

/**
 * The hash (`#…`) of a view:
 *   registry: { reference, digest } when a registry image is shown (shared
 *     as its reference and the digest followed, not its bytes), else null;
 *   bytes: the shown bytes otherwise;
 *   platform, defaultPlatform, expected: the boxes' text;
 *   convertTo, destination: the choice, or null when left at its default;
 *   selection: "system" | "all" | "instances"; instances: digests; strip: boolean;
 *   layer: the open layer's digest, file: the file open in it (or absent);
 *   filesystem: whether the image's filesystem is shown; compare: [digest A, digest B] or absent;
 *   compareWith: the other reference the shown image is compared with, or absent;
 *   layerFilter, fsFilter: the path filters (written with their view); fileMode: "hex" or absent.
 */
export function writeLink(view) {
  const params = new URLSearchParams();
  if (view.registry) {
    params.set("r", view.registry.reference);
    if (view.registry.digest) params.set("d", view.registry.digest);
  } else if (view.bytes.length) params.set("m", toBase64url(view.bytes));
  if (view.platform) params.set("p", view.platform);
  if (view.convertTo) params.set("to", view.convertTo);
  if (view.defaultPlatform) params.set("dp", view.defaultPlatform);
  if (view.expected.trim()) params.set("e", view.expected.trim());
  if (view.destination) params.set("dest", view.destination);
  if (view.selection !== "system") params.set("sel", view.selection);
  if (view.selection === "instances" && view.instances.length) params.set("inst", view.instances.join(","));
  if (view.strip) params.set("strip", "1");
  if (view.layer) params.set("layer", view.layer);
  if (view.layer && view.file) params.set("file", view.file);
  if (view.filesystem) params.set("fs", "1");
  if (view.compare) params.set("cmp", view.compare.join(","));
  if (view.compareWith) params.set("with", view.compareWith);
  if (view.layer && view.layerFilter) params.set("lq", view.layerFilter);
  if (view.layer && view.file && view.fileMode === "hex") params.set("fm", "hex");
  if (view.filesystem && view.fsFilter) params.set("fq", view.fsFilter);
  return "#" + params.toString();
}

/**
 * What a link asks of the page showing `state` (the controls aside):
 *   { kind: "needs-proxy", message }   a registry link, but ferry serve does not host the page
 *   { kind: "read", reference, digest } read the reference (then follow digest, or null)
 *   { kind: "follow", digest }         the reference is open: follow another digest
 *   { kind: "show", bytes }            show the link's manifest
 *   { kind: "bad-bytes", message }     the link's manifest is not base64url
 *   { kind: "render" }                 nothing to load: render what is shown
 */
export function linkRequest(link, state) {
  if (link.r) {
    const lay = state.layout?.remote ? state.layout : null;
    const current = state.trail[state.trail.length - 1]?.digest ?? null;
    if (!state.proxy.available) {
      return { kind: "needs-proxy", message: `This link reads ${link.r} from a registry, which needs the page served by ferry serve.` };
    }
    if (!lay || lay.name !== link.r) return { kind: "read", reference: link.r, digest: link.d };
    if (link.d && link.d !== current) return { kind: "follow", digest: link.d };
    return { kind: "render" };
  }
  if (link.m) {
    let bytes;
    try {
      bytes = fromBase64url(link.m);
    } catch {
      return { kind: "bad-bytes", message: "The link's manifest is not valid base64url." };
    }
    if (bytes.length !== state.bytes.length || toBase64url(state.bytes) !== link.m) return { kind: "show", bytes };
  }
  return { kind: "render" };
}
