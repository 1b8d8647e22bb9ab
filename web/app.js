// The ferry manifest inspector: every answer comes from ferry-core (the
// ferry-wasm package's web build, served at ./pkg/); this file only reads
// input, keeps the view's state in location.hash and renders.
//
// State in the hash (URLSearchParams syntax):
//   m=<base64url of the manifest's exact bytes>  p=<platform>  to=<list format>
//   dp=<default platform for conversion>  e=<expected digest>

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
  layout: null, // { name, kind, blobs: Map<digest, Uint8Array>, root: Uint8Array }
  trail: [], // [{ label, digest|null }]
};

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
  };
}

function writeHash() {
  const params = new URLSearchParams();
  if (state.bytes.length) params.set("m", toBase64url(state.bytes));
  if ($("platform").value) params.set("p", $("platform").value);
  if ($("convert-to").dataset.chosen) params.set("to", $("convert-to").value);
  if ($("default-platform").value) params.set("dp", $("default-platform").value);
  if ($("expected").value.trim()) params.set("e", $("expected").value.trim());
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
  setBytes(layout.root, "layout", `${layout.name}/${layout.rootLabel}`);
}

function openDigest(digest) {
  const bytes = state.layout?.blobs.get(digest);
  if (!bytes) return;
  state.trail.push({ label: digest.slice(0, 19), digest });
  setBytes(bytes, "layout", digest);
}

function goBackTo(i) {
  state.trail = state.trail.slice(0, i + 1);
  const step = state.trail[i];
  setBytes(step.digest ? state.layout.blobs.get(step.digest) : state.layout.root, "layout",
    step.digest ?? `${state.layout.name}/${state.layout.rootLabel}`);
}

function renderLayout() {
  const lay = state.layout;
  show("layout", !!lay && state.source === "layout");
  if (!lay) return;
  $("layout-info").textContent = `${lay.kind} “${lay.name}”: ${lay.blobs.size} blobs, read in this browser.`;
  $("trail").replaceChildren(...state.trail.map((step, i) => h("li", {},
    i === state.trail.length - 1
      ? h("span", { "aria-current": "page" }, step.label)
      : Object.assign(h("button", { type: "button", class: "back" }, step.label), { onclick: () => goBackTo(i) }))));
}

/** A digest cell: the digest, and a button to open it when the loaded layout has it. */
function digestCell(desc, kind) {
  const cell = h("td", {}, h("code", {}, desc.digest));
  const blobs = state.layout && state.source === "layout" ? state.layout.blobs : null;
  if (!blobs) return cell;
  if (!blobs.has(desc.digest)) {
    cell.append(h("div", { class: "note" }, "not in this layout"));
  } else if (kind === "manifest") {
    const b = h("button", { type: "button", class: "open", "aria-label": `Open ${desc.digest}` }, "open");
    b.onclick = () => openDigest(desc.digest);
    cell.append(b);
  } else if (kind === "config") {
    const b = h("button", { type: "button", class: "open", "aria-label": `Show config ${desc.digest}` }, "show");
    b.onclick = () => {
      let text = decoder.decode(blobs.get(desc.digest));
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
  else if (source === "layout") note.textContent = `Showing ${fileName} from the layout (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else if (source === "url") note.textContent = `Restored from the link (${bytes.length} bytes); its exact bytes are inspected until you edit the text.`;
  else note.textContent = "…or drop a file anywhere on this box, or choose one:";
  renderLayout();
  render();
}

const isTar = (bytes) => bytes.length >= 512 && decoder.decode(bytes.subarray(257, 262)) === "ustar";

async function readFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
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
  for (const id of ["summary", "diagnostics", "image", "list", "choose", "convert"]) show(id, false);
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
  else renderImage(inspection);
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

// ---- start ---------------------------------------------------------------

async function start() {
  wireInput();
  try {
    ferry = await import("./pkg/web/index.js");
  } catch (e) {
    setStatus(`Could not load ferry-core's WebAssembly (./pkg/web/index.js): ${e.message}`, true);
    document.documentElement.dataset.ready = "error";
    return;
  }
  applyHash();
  if (!state.bytes.length) setStatus("Ready: paste a manifest or choose a file.");
  document.documentElement.dataset.ready = "1";
}

start();
