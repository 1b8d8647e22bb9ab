// The ferry manifest inspector: every answer comes from ferry-core (the
// ferry-wasm package's web build, served at ./pkg/); this file only reads
// input, keeps the view's state in location.hash and renders.
//
// State in the hash (URLSearchParams syntax):
//   m=<base64url of the manifest's exact bytes>  p=<platform>  to=<list format>
//   dp=<default platform for conversion>  e=<expected digest>
//   r=<registry reference, read through ferry serve>  d=<digest followed from it>
//   dest=<copy plan destination kind>  sel=<system|all|instances>
//   inst=<chosen instance digests, comma-separated>  strip=1

const $ = (id) => document.getElementById(id);

/** Builds an element; children are nodes or strings (always text, never HTML). */
function h(tag, attrs = {}, ...children) {
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

/** Standard OCI annotation keys (image-spec annotations.md), briefly. */
export const OCI_ANNOTATIONS = {
  "org.opencontainers.image.created": "when the image was built (RFC 3339 date-time)",
  "org.opencontainers.image.authors": "who to contact about the image",
  "org.opencontainers.image.url": "where to find more about the image",
  "org.opencontainers.image.documentation": "where its documentation is",
  "org.opencontainers.image.source": "where the source it was built from is",
  "org.opencontainers.image.version": "the packaged software's version",
  "org.opencontainers.image.revision": "the source control revision it was built from",
  "org.opencontainers.image.vendor": "who distributes the image",
  "org.opencontainers.image.licenses": "its licenses, as an SPDX expression",
  "org.opencontainers.image.ref.name": "the name of this reference (e.g. a tag in an OCI layout)",
  "org.opencontainers.image.title": "a human-readable title",
  "org.opencontainers.image.description": "a human-readable description",
  "org.opencontainers.image.base.digest": "the digest of the image this one is based on",
  "org.opencontainers.image.base.name": "the reference of the image this one is based on",
  "vnd.docker.reference.type": "Docker BuildKit: what this entry is (e.g. attestation-manifest)",
  "vnd.docker.reference.digest": "Docker BuildKit: the image this attestation describes",
};

const COMMON_PLATFORMS = [
  "linux/amd64", "linux/arm64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5",
  "linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/amd64/v3", "windows/amd64", "windows/arm64",
];

// ---- bytes and the hash --------------------------------------------------

function toBase64url(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function fromBase64url(text) {
  const b = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
  return out;
}
function formatSize(n) {
  if (n === null || n === undefined || n < 0) return "unknown";
  const exact = `${n.toLocaleString("en-US")} B`;
  if (n < 1024) return exact;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n, u = -1;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]} (${exact})`;
}

/** Resolves a JSON pointer against a parsed document; undefined when absent. */
function atPointer(doc, pointer) {
  if (pointer === "") return doc;
  let cur = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object" || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

// ---- state ---------------------------------------------------------------

const state = {
  bytes: new Uint8Array(), // the manifest's exact bytes
  source: "paste", // "paste" | "file" | "url"
  fileName: null,
  // A loaded OCI layout / oci-archive / dir: folder: blobs by digest, and the path followed.
  // A registry image read through ferry serve has the same shape, with
  // remote: true; its blobs map caches what was fetched.
  layout: null, // { name, kind, blobs: Map<digest, Uint8Array>, types: Map<digest, string>, root: Uint8Array, remote? }
  trail: [], // [{ label, digest|null }]
  mediaType: "", // the type the source reported for the shown bytes ("" when none did)
};

/** Whether this page is served by `ferry serve`, whose same-origin proxy reads registries. */
const proxy = { available: false, checked: false };

let ferry = null;

function guessPlatform() {
  const ua = navigator.userAgent || "";
  const plat = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || "";
  let arch = "amd64";
  if (/aarch64|arm64/i.test(ua + " " + plat)) arch = "arm64";
  else if (/armv7/i.test(ua + " " + plat)) return "linux/arm/v7";
  else if (/armv6/i.test(ua + " " + plat)) return "linux/arm/v6";
  else if (/i[3-6]86/i.test(plat) && !/x86_64|win64|wow64/i.test(ua)) arch = "386";
  // Containers on macOS and Windows desktops run in a Linux VM by default.
  return `linux/${arch}`;
}

async function guessPlatformPrecise() {
  const uad = navigator.userAgentData;
  if (!uad || !uad.getHighEntropyValues) return guessPlatform();
  try {
    const v = await uad.getHighEntropyValues(["architecture", "bitness"]);
    if (v.architecture === "arm") return v.bitness === "32" ? "linux/arm/v7" : "linux/arm64";
    if (v.architecture === "x86") return v.bitness === "32" ? "linux/386" : "linux/amd64";
  } catch { /* fall through */ }
  return guessPlatform();
}

function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
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
  };
}

function writeHash() {
  const params = new URLSearchParams();
  const remote = state.layout?.remote && state.source === "layout";
  if (remote) {
    // A registry view is shared as its reference, not its bytes.
    params.set("r", state.layout.name);
    const step = state.trail[state.trail.length - 1];
    if (step?.digest) params.set("d", step.digest);
  } else if (state.bytes.length) params.set("m", toBase64url(state.bytes));
  if ($("platform").value) params.set("p", $("platform").value);
  if ($("convert-to").dataset.chosen) params.set("to", $("convert-to").value);
  if ($("default-platform").value) params.set("dp", $("default-platform").value);
  if ($("expected").value.trim()) params.set("e", $("expected").value.trim());
  if ($("plan-dest").dataset.chosen) params.set("dest", $("plan-dest").value);
  const sel = planSelection();
  if (sel !== "system") params.set("sel", sel);
  if (sel === "instances" && chosenInstances().length) params.set("inst", chosenInstances().join(","));
  if ($("plan-strip").checked) params.set("strip", "1");
  const hash = "#" + params.toString();
  if (hash !== location.hash && !(hash === "#" && !location.hash)) history.replaceState(null, "", hash);
  $("share").href = hash;
}

// ---- layouts: OCI layout folders, oci-archive tars, dir: folders ---------------

/** The regular files of a tar (ustar, GNU long names, pax paths): path → bytes. */
export function untar(buf) {
  const files = new Map();
  const text = (a, b) => new TextDecoder().decode(buf.subarray(a, b)).replace(/\0.*$/s, "");
  let off = 0, longName = null, paxPath = null;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    let name = text(off, off + 100);
    const size = parseInt(text(off + 124, off + 136).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 48);
    if (text(off + 257, off + 262) === "ustar") {
      const prefix = text(off + 345, off + 500);
      if (prefix) name = prefix + "/" + name;
    }
    const body = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === "L") { longName = new TextDecoder().decode(body).replace(/\0.*$/s, ""); continue; }
    if (type === "x") {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(body));
      paxPath = m ? m[1] : null;
      continue;
    }
    if (type === "g") continue;
    const path = paxPath ?? longName ?? name;
    longName = paxPath = null;
    if (type === "0" || type === "\0" || type === "7") files.set(path.replace(/^\.\//, ""), body);
  }
  return files;
}

/** Reads path → bytes as an OCI layout (index.json + blobs/ALG/HEX) or a dir: folder (manifest.json + HEX files). */
export function readLayout(files, name) {
  // Folders arrive with their own name as the first component: strip a common one.
  const paths = [...files.keys()];
  const first = paths[0]?.split("/")[0];
  if (first && paths.every((p) => p.startsWith(first + "/")) && !files.has("index.json") && !files.has("manifest.json")) {
    files = new Map([...files].map(([p, b]) => [p.slice(first.length + 1), b]));
  }
  const blobs = new Map();
  if (files.has("index.json")) {
    for (const [p, b] of files) {
      const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(p);
      if (m) blobs.set(`${m[1]}:${m[2]}`, b);
    }
    return { name, kind: "OCI layout", blobs, root: files.get("index.json"), rootLabel: "index.json" };
  }
  if (files.has("manifest.json")) {
    for (const [p, b] of files) if (/^[a-f0-9]{64}$/.test(p)) blobs.set(`sha256:${p}`, b);
    return { name, kind: "dir: folder", blobs, root: files.get("manifest.json"), rootLabel: "manifest.json" };
  }
  throw new Error(`${name}: neither an OCI layout (no index.json) nor a dir: folder (no manifest.json)`);
}

function openLayout(layout) {
  state.layout = layout;
  state.trail = [{ label: layout.rootLabel, digest: null }];
  state.mediaType = layout.rootType ?? "";
  setBytes(layout.root, "layout", layout.remote ? layout.name : `${layout.name}/${layout.rootLabel}`);
}

/** Shows the manifest `digest` refers to: from the loaded layout, or read through ferry serve. */
async function openDigest(digest) {
  const lay = state.layout;
  if (!lay) return;
  if (!lay.blobs.has(digest) && lay.remote) {
    setStatus(`Reading ${digest} through ferry serve…`);
    try {
      const m = await fetchManifest(lay.name, digest);
      lay.blobs.set(digest, m.bytes);
      lay.types.set(digest, m.mediaType);
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
  }
  const bytes = lay.blobs.get(digest);
  if (!bytes || state.layout !== lay) return;
  state.trail.push({ label: digest.slice(0, 19), digest });
  state.mediaType = lay.types?.get(digest) ?? "";
  setBytes(bytes, "layout", digest);
}

function goBackTo(i) {
  state.trail = state.trail.slice(0, i + 1);
  const step = state.trail[i];
  const lay = state.layout;
  state.mediaType = (step.digest ? lay.types?.get(step.digest) : lay.rootType) ?? "";
  setBytes(step.digest ? lay.blobs.get(step.digest) : lay.root, "layout",
    step.digest ?? (lay.remote ? lay.name : `${lay.name}/${lay.rootLabel}`));
}

// ---- registries, through ferry serve ---------------------------------------------

/** Asks the page's own server whether it is `ferry serve` (a static host answers 404). */
async function detectProxy() {
  let why;
  try {
    const r = await fetch("api/info", { cache: "no-store" });
    const info = r.ok ? await r.json().catch(() => null) : null;
    proxy.available = info?.server === "ferry serve";
    why = r.ok ? "it does not describe itself as ferry serve" : `it answered ${r.status} to api/info`;
  } catch (e) {
    why = e.message;
  }
  proxy.checked = true;
  $("registry-ref").disabled = $("registry-read").disabled = !proxy.available;
  $("registry-note").replaceChildren(...(proxy.available
    ? ["Read through ", h("code", {}, "ferry serve"), " on this machine, with its credentials (they never reach this page). Read only."]
    : ["Unavailable: browsers cannot read most registries directly, so this needs the page served by ",
      h("code", {}, "ferry serve"), ` (this host is a plain static one: ${why}). Pasted and dropped input still works, offline.`]));
}

/** `docker://HOST/REPO[:TAG|@DIGEST]` from what a person typed (the prefix is optional). */
export function registryReference(text) {
  const t = text.trim().replace(/^docker:\/\//, "").replace(/^\/\//, "");
  if (!t) throw new Error("Enter a registry reference such as localhost:5000/repository:tag.");
  if (/\s/.test(t)) throw new Error(`“${text.trim()}” is not a registry reference: it contains spaces.`);
  return "docker://" + t;
}

async function proxyGet(path, ref, digest) {
  const q = new URLSearchParams({ ref });
  if (digest) q.set("digest", digest);
  const r = await fetch(`api/${path}?${q}`, { cache: "no-store" });
  const bytes = new Uint8Array(await r.arrayBuffer());
  if (!r.ok) {
    const what = digest ? `${ref} (${digest})` : ref;
    throw new Error(`Reading ${what} through ferry serve failed (${r.status}): ${decoder.decode(bytes).trim() || r.statusText}`);
  }
  return { bytes, mediaType: r.headers.get("X-Ferry-Media-Type") ?? "" };
}
const fetchManifest = (ref, digest) => proxyGet("manifest", ref, digest);
const fetchBlob = (ref, digest) => proxyGet("blob", ref, digest);

/** Reads a reference's manifest through ferry serve and shows it; `follow` then opens that digest. */
async function readRegistry(text, follow = null) {
  let ref;
  try {
    ref = registryReference(text);
  } catch (e) {
    setStatus(e.message, true);
    return;
  }
  $("registry-ref").value = ref;
  setStatus(`Reading ${ref} through ferry serve…`);
  try {
    const m = await fetchManifest(ref);
    openLayout({ name: ref, kind: "registry", remote: true, blobs: new Map(), types: new Map(),
      root: m.bytes, rootType: m.mediaType, rootLabel: ref.replace(/^docker:\/\//, "") });
    if (follow) await openDigest(follow);
  } catch (e) {
    setStatus(e.message, true);
  }
}

/** A blob of the loaded layout, or of the registry image (fetched once, then `render` again). */
const pendingBlobs = new Set();
function blobAtHand(digest) {
  const lay = state.layout;
  if (!lay || state.source !== "layout") return null;
  if (lay.blobs.has(digest)) return lay.blobs.get(digest);
  if (lay.remote && !pendingBlobs.has(digest)) {
    pendingBlobs.add(digest);
    fetchBlob(lay.name, digest).then((b) => {
      lay.blobs.set(digest, b.bytes);
      if (state.layout === lay) render();
    }, (e) => {
      lay.failed = lay.failed ?? new Map();
      lay.failed.set(digest, e.message);
      if (state.layout === lay) render();
    });
  }
  return null;
}

function renderLayout() {
  const lay = state.layout;
  show("layout", !!lay && state.source === "layout");
  if (!lay) return;
  $("layout-info").textContent = lay.remote
    ? `Registry image ${lay.name}, read through ferry serve.`
    : `${lay.kind} “${lay.name}”: ${lay.blobs.size} blobs, read in this browser.`;
  $("trail").replaceChildren(...state.trail.map((step, i) => h("li", {},
    i === state.trail.length - 1
      ? h("span", { "aria-current": "page" }, step.label)
      : Object.assign(h("button", { type: "button", class: "back" }, step.label), { onclick: () => goBackTo(i) }))));
}

/** A digest cell: the digest, and a button to open it when the loaded layout has it. */
function digestCell(desc, kind) {
  const cell = h("td", {}, h("code", {}, desc.digest));
  const lay = state.layout && state.source === "layout" ? state.layout : null;
  if (!lay) return cell;
  if (!lay.remote && !lay.blobs.has(desc.digest)) {
    cell.append(h("div", { class: "note" }, "not in this layout"));
  } else if (kind === "manifest") {
    const b = h("button", { type: "button", class: "open", "aria-label": `Open ${desc.digest}` }, "open");
    b.onclick = () => openDigest(desc.digest);
    cell.append(b);
  } else if (kind === "config") {
    const b = h("button", { type: "button", class: "open", "aria-label": `Show config ${desc.digest}` }, "show");
    b.onclick = async () => {
      let bytes = lay.blobs.get(desc.digest);
      if (!bytes) {
        try {
          bytes = (await fetchBlob(lay.name, desc.digest)).bytes;
          lay.blobs.set(desc.digest, bytes);
        } catch (e) {
          setStatus(e.message, true);
          return;
        }
      }
      let text = decoder.decode(bytes);
      try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as is */ }
      $("config-view").textContent = text;
      $("config-view").hidden = false;
      $("config-view").focus();
    };
    cell.append(b);
  }
  return cell;
}

async function readEntries(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((res, rej) => entry.file(res, rej));
    out.set(prefix + entry.name, new Uint8Array(await file.arrayBuffer()));
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await readEntries(e, prefix + entry.name + "/", out);
    }
  }
}

async function loadFiles(list, name) {
  const files = new Map();
  for (const f of list) files.set(f.webkitRelativePath || f.name, new Uint8Array(await f.arrayBuffer()));
  return readLayout(files, name);
}

function layoutError(e) {
  setStatus(e.message, true);
}

// ---- input ---------------------------------------------------------------

const decoder = new TextDecoder("utf-8", { fatal: false });

function setBytes(bytes, source, fileName = null) {
  state.bytes = bytes;
  state.source = source;
  state.fileName = fileName;
  $("manifest").value = decoder.decode(bytes);
  const note = $("source-note");
  if (source === "file") note.textContent = `Read ${fileName} (${bytes.length} bytes) in this browser; its exact bytes are inspected until you edit the text.`;
  else if (source === "layout" && state.layout?.remote) note.textContent = `Showing ${fileName} from the registry (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else if (source === "layout") note.textContent = `Showing ${fileName} from the layout (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else if (source === "url") note.textContent = `Restored from the link (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else note.textContent = "…or drop a file anywhere on this box, or choose one:";
  renderLayout();
  render();
}

const isTar = (bytes) => bytes.length >= 512 && decoder.decode(bytes.subarray(257, 262)) === "ustar";

async function readFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  state.mediaType = "";
  if (isTar(bytes)) {
    try { openLayout(readLayout(untar(bytes), file.name)); } catch (e) { layoutError(e); }
    return;
  }
  state.layout = null;
  setBytes(bytes, "file", file.name);
}

function wireInput() {
  $("manifest").addEventListener("input", () => {
    state.bytes = new TextEncoder().encode($("manifest").value);
    state.source = "paste";
    state.fileName = null;
    state.mediaType = "";
    renderLayout();
    $("source-note").textContent = "…or drop a file anywhere on this box, or choose one:";
    render();
  });
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    if (f) readFile(f);
  });
  $("layout-file").addEventListener("change", () => {
    const f = $("layout-file").files[0];
    if (f) readFile(f);
  });
  $("layout-dir").addEventListener("change", () => {
    const list = [...$("layout-dir").files];
    if (!list.length) return;
    const name = (list[0].webkitRelativePath || list[0].name).split("/")[0];
    loadFiles(list, name).then(openLayout, layoutError);
  });
  const zone = $("dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const entry = e.dataTransfer.items?.[0]?.webkitGetAsEntry?.();
    if (entry && entry.isDirectory) {
      const files = new Map();
      readEntries(entry, "", files).then(() => openLayout(readLayout(files, entry.name))).catch(layoutError);
      return;
    }
    const f = e.dataTransfer.files[0];
    if (f) readFile(f);
  });
  $("expected").addEventListener("input", render);
  $("platform").addEventListener("input", render);
  $("default-platform").addEventListener("input", render);
  $("convert-to").addEventListener("change", () => { $("convert-to").dataset.chosen = "1"; render(); });
  $("use-mine").addEventListener("click", async () => { $("platform").value = await guessPlatformPrecise(); render(); });
  $("registry-read").addEventListener("click", () => readRegistry($("registry-ref").value));
  $("registry-ref").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); readRegistry($("registry-ref").value); }
  });
  $("plan-dest").addEventListener("change", () => { $("plan-dest").dataset.chosen = "1"; render(); });
  for (const r of document.querySelectorAll("input[name=plan-sel]")) r.addEventListener("change", render);
  $("plan-strip").addEventListener("change", render);
  $("plan-instances").addEventListener("change", render);
  $("share").addEventListener("click", async (e) => {
    e.preventDefault();
    writeHash();
    try {
      await navigator.clipboard.writeText(location.href);
      setStatus("Link copied to the clipboard.");
    } catch {
      setStatus("The address bar now holds a link to this view.");
    }
  });
  window.addEventListener("hashchange", () => applyHash());
}

function applyHash() {
  const s = readHash();
  if (s.p !== null) $("platform").value = s.p;
  if (s.to === "oci-index" || s.to === "docker-list") { $("convert-to").value = s.to; $("convert-to").dataset.chosen = "1"; }
  if (s.dp !== null) $("default-platform").value = s.dp;
  if (s.e !== null) $("expected").value = s.e;
  if (s.dest !== null && [...$("plan-dest").options].some((o) => o.value === s.dest)) {
    $("plan-dest").value = s.dest;
    $("plan-dest").dataset.chosen = "1";
  }
  if (s.sel !== null) for (const r of document.querySelectorAll("input[name=plan-sel]")) r.checked = r.value === s.sel;
  $("plan-strip").checked = s.strip === "1";
  planState.wanted = s.inst ? s.inst.split(",") : null;
  if (s.r) {
    const lay = state.layout?.remote ? state.layout : null;
    const current = state.trail[state.trail.length - 1]?.digest ?? null;
    if (!proxy.available) {
      setStatus(`This link reads ${s.r} from a registry, which needs the page served by ferry serve.`, true);
      return;
    } else if (!lay || lay.name !== s.r) {
      readRegistry(s.r, s.d);
      return;
    } else if (s.d && s.d !== current) {
      openDigest(s.d);
      return;
    }
    render();
    return;
  }
  if (s.m) {
    try {
      const bytes = fromBase64url(s.m);
      if (bytes.length !== state.bytes.length || toBase64url(state.bytes) !== s.m) { setBytes(bytes, "url"); return; }
    } catch {
      setStatus("The link's manifest is not valid base64url.", true);
    }
  }
  render();
}

function setStatus(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.className = bad ? "bad" : "";
}

// ---- rendering -----------------------------------------------------------

const show = (id, on) => { $(id).hidden = !on; };

function kv(dl, entries) {
  dl.replaceChildren(...entries.flatMap(([k, v, attrs = {}]) => [h("dt", {}, k), h("dd", attrs, v)]));
}

function annotationList(ann, label) {
  const keys = Object.keys(ann || {});
  if (!keys.length) return null;
  return h("dl", { class: "ann", "aria-label": label },
    keys.flatMap((k) => [
      h("dt", {}, k),
      h("dd", {}, ann[k], OCI_ANNOTATIONS[k] ? h("span", { class: "explain" }, OCI_ANNOTATIONS[k]) : null),
    ]));
}

function platformText(p) {
  if (!p) return "(none)";
  let s = `${p.os}/${p.architecture}${p.variant ? "/" + p.variant : ""}`;
  if (p["os.version"]) s += ` (os.version ${p["os.version"]})`;
  const feats = [...(p["os.features"] || []), ...(p.features || [])];
  if (feats.length) s += ` [${feats.join(", ")}]`;
  return s;
}

/** Copies each column header onto its cells (data-label), for the stacked narrow-screen layout. */
function labelCells(table) {
  const heads = [...table.tHead.rows[0].cells].map((c) => c.textContent);
  for (const row of table.tBodies[0].rows) [...row.cells].forEach((c, i) => c.setAttribute("data-label", heads[i] ?? ""));
}

function render() {
  writeHash();
  if (!ferry) return;
  const bytes = state.bytes;
  // An empty file is something to inspect; an empty text box is not.
  const any = bytes.length > 0 || state.source !== "paste";
  for (const id of ["summary", "diagnostics", "image", "list", "choose", "convert", "plan"]) show(id, false);
  if (!any) { setStatus("Ready: paste a manifest or choose a file."); return; }
  setStatus(`Inspected ${bytes.length} bytes.`);

  // Digest, media types.
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
  plainSha256(bytes);

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

  if (!inspection) return;
  if (Array.isArray(inspection.manifests)) renderList(bytes, inspection);
  else {
    renderImage(inspection);
    renderHistory(inspection);
  }
  renderPlan(bytes, inspection);
}

// ferry's digest is an error for bytes that are not JSON (containers/image
// would give their plain sha256); the plain sha256 is shown beside it, and
// differs from the manifest digest only for signed schema 1.
let shaToken = 0;
async function plainSha256(bytes) {
  const token = ++shaToken;
  let text;
  try {
    const buf = await crypto.subtle.digest("SHA-256", bytes);
    text = "sha256:" + [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  } catch {
    text = "(unavailable: this page is not in a secure context)";
  }
  if (token !== shaToken) return;
  const el = $("sha256");
  if (el) el.textContent = text;
}

function renderImage(ins) {
  const rows = [];
  if (ins.config) {
    rows.push(h("tr", {}, h("td", {}, "–"), h("td", {}, "config"), h("td", {}, ins.config.mediaType || "(none)"),
      digestCell(ins.config, "config"), h("td", { class: "num" }, formatSize(ins.config.size))));
  }
  ins.layers.forEach((l, i) => {
    rows.push(h("tr", { class: "layer" }, h("td", {}, String(i)), h("td", {}, l.emptyLayer ? "layer (empty)" : "layer"),
      h("td", {}, l.mediaType || "(none)"), digestCell(l, "layer"), h("td", { class: "num" }, formatSize(l.size))));
  });
  $("image-table").tBodies[0].replaceChildren(...rows);
  labelCells($("image-table"));
  $("config-view").hidden = true;
  $("image-total").textContent = ins.totalSize === null ? "unknown (schema 1 records no sizes)" : formatSize(ins.totalSize);
  show("image", true);
}

function renderList(bytes, ins) {
  $("platform-table").tBodies[0].replaceChildren(...ins.manifests.map((m, i) =>
    h("tr", {}, h("td", {}, String(i)), h("td", {}, platformText(m.platform)), h("td", {}, m.mediaType || "(none)"),
      digestCell(m, "manifest"), h("td", { class: "num" }, formatSize(m.size)),
      h("td", {}, annotationList(m.annotations, `Annotations of entry ${i}`) ?? ""))));
  labelCells($("platform-table"));
  const top = annotationList(ins.annotations, "Annotations of the list");
  $("list-annotations").replaceChildren(...(top ? [h("h3", {}, "Annotations of the list"), top] : []));
  show("list", true);

  // Platform choice.
  const seen = new Set(COMMON_PLATFORMS);
  const own = ins.manifests.map((m) => m.platform).filter(Boolean)
    .map((p) => `${p.os}/${p.architecture}${p.variant ? "/" + p.variant : ""}`);
  $("platforms").replaceChildren(...[...new Set([...own, ...seen])].map((p) => h("option", { value: p })));
  if (!$("platform").value) $("platform").value = guessPlatform();
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

// ---- config history beside the layers ----------------------------------------

/**
 * Lines the config's history up with the manifest's layers: each history
 * entry without `empty_layer` created the next layer, in order. Returns the
 * rows and the count mismatches (which make the pairing unreliable).
 */
export function historyRows(config, layers) {
  const history = Array.isArray(config?.history) ? config.history : [];
  const rows = [];
  const problems = [];
  let next = 0;
  history.forEach((entry, step) => {
    const empty = entry?.empty_layer === true;
    rows.push({ step, entry, layer: empty ? null : (next < layers.length ? next : -1) });
    if (!empty) next++;
  });
  for (; next < layers.length; next++) rows.push({ step: null, entry: null, layer: next });
  const creating = history.filter((e) => e?.empty_layer !== true).length;
  if (creating !== layers.length) {
    problems.push(`The config's history has ${creating} entr${creating === 1 ? "y" : "ies"} that created a layer ` +
      `(${history.length} in all), but the manifest has ${layers.length} layer${layers.length === 1 ? "" : "s"}: the pairing below is unreliable.`);
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (Array.isArray(diffIds) && diffIds.length !== layers.length) {
    problems.push(`The config's rootfs.diff_ids has ${diffIds.length} entr${diffIds.length === 1 ? "y" : "ies"}, but the manifest has ${layers.length} layer${layers.length === 1 ? "" : "s"}.`);
  }
  return { rows, problems };
}

function renderHistory(ins) {
  show("history", false);
  if (!ins.config?.digest || !Array.isArray(ins.layers)) return;
  const failed = state.layout?.failed?.get(ins.config.digest);
  const bytes = blobAtHand(ins.config.digest);
  if (!bytes) {
    if (failed || state.layout?.remote) {
      $("history-note").textContent = failed ? `The config could not be read: ${failed}` : "Reading the config through ferry serve…";
      $("history-table").tBodies[0].replaceChildren();
      $("history-diagnostics").replaceChildren();
      show("history", true);
    }
    return;
  }
  let config;
  try {
    config = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    $("history-note").textContent = `The config ${ins.config.digest} is not JSON (${e.message}), so it has no history to show.`;
    $("history-table").tBodies[0].replaceChildren();
    $("history-diagnostics").replaceChildren();
    show("history", true);
    return;
  }
  const { rows, problems } = historyRows(config, ins.layers);
  $("history-note").textContent = `From the config ${ins.config.digest}: ${Array.isArray(config?.history) ? config.history.length : 0} history entries, ${ins.layers.length} layers.`;
  $("history-diagnostics").replaceChildren(...problems.map((p) =>
    h("li", { class: "diagnostic history-mismatch" }, h("span", { class: "warning" }, "warning"), " ", p)));
  $("history-table").tBodies[0].replaceChildren(...rows.map((r) => {
    const layer = r.layer === null || r.layer < 0 ? null : ins.layers[r.layer];
    const what = r.entry ? (r.entry.created_by ?? r.entry.comment ?? "(not recorded)") : "(no history entry)";
    return h("tr", { class: r.layer === null ? "no-layer" : "with-layer" },
      h("td", {}, r.step === null ? "–" : String(r.step)),
      h("td", {}, h("code", {}, what)),
      h("td", {}, r.entry?.created ?? ""),
      h("td", {}, r.layer === null ? "no layer (empty_layer)" : layer ? h("span", {}, `#${r.layer} `, h("code", {}, layer.digest)) : "missing: the manifest has no more layers"),
      h("td", { class: "num" }, layer ? formatSize(layer.size) : ""));
  }));
  labelCells($("history-table"));
  show("history", true);
}

// ---- copy plan preview ---------------------------------------------------

const planState = { wanted: null }; // chosen instance digests (selection "instances"), null until chosen

function planSelection() {
  return document.querySelector("input[name=plan-sel]:checked")?.value ?? "system";
}
function chosenInstances() {
  const boxes = [...document.querySelectorAll("#plan-instances input[type=checkbox]")];
  return boxes.length ? boxes.filter((b) => b.checked).map((b) => b.value) : (planState.wanted ?? []);
}

/** Instance manifests at hand (a loaded layout, or fetched through ferry serve), digest → text. */
function instancesAtHand(digests) {
  const out = {};
  for (const d of digests) {
    const bytes = state.layout && state.source === "layout" ? state.layout.blobs.get(d) : null;
    if (bytes) out[d] = decoder.decode(bytes);
    else if (state.layout?.remote && state.source === "layout" && !pendingBlobs.has("m:" + d)) {
      pendingBlobs.add("m:" + d);
      const lay = state.layout;
      fetchManifest(lay.name, d).then((m) => {
        lay.blobs.set(d, m.bytes);
        lay.types.set(d, m.mediaType);
        if (state.layout === lay) render();
      }, (e) => {
        lay.failed = lay.failed ?? new Map();
        lay.failed.set(d, e.message);
        if (state.layout === lay) render();
      });
    }
  }
  return out;
}

const OPERATION_TEXT = { keep: "copied as is", compress: "gzip-compressed (new digest)", decompress: "decompressed (new digest)" };

function renderPlan(bytes, ins) {
  const isList = Array.isArray(ins.manifests);
  show("plan-selection", isList);
  if (isList) {
    // One checkbox per entry, kept checked across renders.
    const before = chosenInstances();
    const wanted = new Set(planState.wanted ?? before);
    planState.wanted = null;
    $("plan-instances").replaceChildren(...ins.manifests.map((m, i) => h("li", {},
      h("label", { class: "choice" },
        Object.assign(h("input", { type: "checkbox", value: m.digest }), { checked: wanted.has(m.digest) }),
        ` #${i} ${platformText(m.platform)} `, h("code", {}, m.digest.slice(0, 19))))));
  }
  const selection = isList ? planSelection() : "all";
  const options = { destination: { kind: $("plan-dest").value }, selection };
  if (state.mediaType) options.mediaType = state.mediaType;
  if (selection === "system") options.platform = $("platform").value.trim() || guessPlatform();
  if (selection === "instances") {
    options.digests = chosenInstances();
    options.stripUnselected = $("plan-strip").checked;
  }
  let answer;
  try {
    // First the top-level decision, to learn which manifests it needs:
    // nested lists first, then the instances under them.
    const given = {};
    answer = ferry.planCopy(bytes, options);
    while (answer.missing.length) {
      const more = instancesAtHand(answer.missing.filter((d) => !(d in given)));
      if (!Object.keys(more).length) break;
      Object.assign(given, more);
      answer = ferry.planCopy(bytes, options, given);
    }
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
  const verdict = top.kind === "nested"
    ? "The list names nested lists: their manifests are needed first."
    : top.kind === "image"
    ? "Copies this one image."
    : top.kind === "instance"
      ? `Copies entry ${top.choice.index} (the one ${options.platform} runs), not the list.`
      : `Writes the list as ${top.listMediaType === top.conversion.selected ? "it is typed" : "a converted list"} (${top.conversion.selected}` +
        `${top.conversion.fallbacks.length ? `, then ${top.conversion.fallbacks.join(", ")}` : ""}): ` +
        `${top.entries.filter((e) => e === "copy").length} entries copied, ${top.entries.filter((e) => e === "keep").length} kept without their images, ` +
        `${top.entries.filter((e) => e === "drop").length} dropped.` +
        (top.cannotModify ? ` It may not change: ${top.cannotModify}.` : "");
  $("plan-verdict").replaceChildren(h("span", { class: "ok", id: "plan-top" }, verdict));
  const remote = state.layout?.remote && state.source === "layout";
  $("plan-missing").replaceChildren(...answer.missing.map((d) => {
    const failed = remote ? state.layout.failed?.get(d) : null;
    return h("li", { class: failed ? "missing bad" : "missing" }, "The manifest of instance ", h("code", {}, d),
      failed ? ` could not be read: ${failed}` : remote ? " is being read through ferry serve…"
        : " is not at hand (load the layout or read the image from a registry to plan it).");
  }));
  const ops = new Map();
  for (const img of answer.images) img.blobs.forEach((b, i) => ops.set(b.digest, img.operations[i]));
  const sum = answer.summary;
  $("plan-manifests").tBodies[0].replaceChildren(...(sum ? sum.manifests : answer.images.map((i) => ({
    role: top.kind === "list" ? "instance" : "image", sourceDigest: i.sourceDigest, mediaType: i.conversion.preferred,
    digest: i.conversion.needsConversion ? null : i.sourceDigest, fallbacks: i.conversion.fallbacks,
  }))).map((m) => h("tr", { class: "planned-manifest" }, h("td", {}, m.role), h("td", {}, h("code", {}, m.sourceDigest)),
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

// ---- start ---------------------------------------------------------------

async function start() {
  wireInput();
  await detectProxy();
  try {
    ferry = await import("./pkg/web/index.js");
  } catch (e) {
    setStatus(`Could not load ferry-core's WebAssembly (./pkg/web/index.js): ${e.message}`, true);
    document.documentElement.dataset.ready = "error";
    return;
  }
  applyHash();
  // A registry link is still being read, or its refusal is on show.
  if (!state.bytes.length && readHash().r === null) setStatus("Ready: paste a manifest or choose a file.");
  document.documentElement.dataset.ready = "1";
}

start();
