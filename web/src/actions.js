// What the page does in answer to input: show bytes, open layouts and
// registry images, follow digests and go back, fetch what a view needs
// through ferry serve. Every action takes the one `app` object:
//   { state (state.js), ferry (the wasm package, once loaded), proxy (proxy.js), actions }

import { decoder } from "./format.js";
import { LIMITS, listLayer, readMember } from "./layer.js";
import { layoutOfFile, readLayout, remoteLayout } from "./layout.js";
import { linkRequest, readLink, writeLink } from "./link.js";
import { registryReference } from "./reference.js";
import {
  backTo, currentDigest, edited, enterDigest, enterLayout, readFailed, showBytes, shownLayout, showingRegistry,
} from "./state.js";
import { applyControls, controlsView, renderLink, renderRegistryRow } from "./views/controls.js";
import { $, setStatus } from "./views/dom.js";
import { showConfigText } from "./views/image.js";
import { comparedSide, compareFilesystems, layerTree, mergeLayers } from "./tree.js";
import { platformQuery, platformText } from "./platform.js";
import { renderCompare, renderFilesystem } from "./views/filesystem.js";
import { layerStatus, renderFile, renderLayer } from "./views/layer.js";
import { renderLayout } from "./views/layout.js";
import { renderPage, renderSourceNote } from "./views/page.js";

export function createActions(app) {
  const { state } = app;

  /** Puts the view in the address bar and the share link. */
  function updateLink() {
    renderLink(writeLink({
      ...controlsView(state),
      registry: showingRegistry(state) ? { reference: state.layout.name, digest: currentDigest(state) } : null,
      bytes: state.bytes,
      layer: state.layerView?.digest ?? null,
      file: state.layerView?.file?.path ?? null,
      filesystem: !!state.fsView,
      compare: state.compareView && !state.compareView.with ? [state.compareView.a.digest, state.compareView.b.digest] : null,
      compareWith: state.compareView?.with ?? null,
      fileMode: state.layerView?.file?.mode ?? null,
    }));
  }

  /** Puts the view in the link, then renders the page. */
  function render() {
    updateLink();
    renderPage(app);
  }

  function setBytes(bytes, source, fileName = null) {
    showBytes(state, bytes, source, fileName);
    state.layerView = null;
    state.fsView = null;
    state.compareView = null;
    renderLayer(app);
    renderFilesystem(app);
    renderCompare(app);
    $("manifest").value = decoder.decode(bytes);
    renderSourceNote(state);
    renderLayout(app);
    render();
  }

  /** The text box was edited. */
  function edit(text) {
    edited(state, new TextEncoder().encode(text));
    renderLayout(app);
    renderSourceNote(state);
    render();
  }

  function openLayout(layout) {
    const { bytes, name } = enterLayout(state, layout);
    setBytes(bytes, "layout", name);
  }

  /** Shows the manifest `digest` refers to: from the loaded layout, or read through ferry serve. */
  async function openDigest(digest) {
    const lay = state.layout;
    if (!lay) return;
    if (!lay.blobs.has(digest) && lay.remote) {
      setStatus(`Reading ${digest} through ferry serve…`);
      try {
        const m = await app.proxy.manifest(lay.name, digest);
        lay.blobs.set(digest, m.bytes);
        lay.types.set(digest, m.mediaType);
      } catch (e) {
        setStatus(e.message, true);
        return;
      }
    }
    const shown = enterDigest(state, lay, digest);
    if (shown) setBytes(shown.bytes, "layout", shown.name);
    else if (state.layout === lay && !lay.blobs.has(digest)) setStatus(`${digest} is not in ${lay.name}.`, true);
  }

  function goBackTo(i) {
    const { bytes, name } = backTo(state, i);
    setBytes(bytes, "layout", name);
  }

  /** Reads a reference's manifest through ferry serve and shows it; `follow` then opens that digest. */
  async function readRegistry(text, follow = null) {
    if (!app.ferry) {
      setStatus("ferry-core is still loading; try again in a moment.", true);
      return;
    }
    let ref;
    try {
      ref = registryReference(text, app.ferry.parseReference);
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
    $("registry-ref").value = ref.reference;
    setStatus(`Reading ${ref.reference} through ferry serve…`);
    try {
      const m = await app.proxy.manifest(ref.reference);
      openLayout(remoteLayout(ref.reference, ref.label, m.bytes, m.mediaType));
      if (follow) await openDigest(follow);
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  /** Fetches `digest` of a registry layout once (`kind`: "manifest" or "blob"), then renders again. */
  function fetchOnce(lay, kind, digest) {
    const key = `${kind}:${digest}`;
    if (lay.pending.has(key)) return;
    lay.pending.add(key);
    app.proxy[kind](lay.name, digest).then((got) => {
      lay.blobs.set(digest, got.bytes);
      if (kind === "manifest") lay.types.set(digest, got.mediaType);
      if (state.layout === lay) render();
    }, (e) => {
      readFailed(lay, digest, e.message);
      if (state.layout === lay) render();
    });
  }

  /** A blob of the shown layout, or of the registry image (fetched once, then rendered again). */
  function blobAtHand(digest) {
    const lay = shownLayout(state);
    if (!lay) return null;
    if (lay.blobs.has(digest)) return lay.blobs.get(digest);
    if (lay.remote) fetchOnce(lay, "blob", digest);
    return null;
  }

  /** Instance manifests at hand (the shown layout, or fetched through ferry serve), digest → text. */
  function instancesAtHand(digests) {
    const out = {};
    const lay = shownLayout(state);
    for (const d of digests) {
      const bytes = lay ? lay.blobs.get(d) : null;
      if (bytes) out[d] = decoder.decode(bytes);
      else if (lay?.remote) fetchOnce(lay, "manifest", d);
    }
    return out;
  }

  /**
   * What ferry serve answered for `key` of `lay` (`kind`: "referrers" of a
   * manifest, keyed by its digest, "" for the root; "verdict" of the image):
   * `{ status: "reading" | "done" | "error", value, error }`, asked once, then
   * rendered again.
   */
  function answerAtHand(lay, kind, key, ask) {
    lay.answers = lay.answers ?? new Map();
    const id = `${kind}:${key}`;
    if (!lay.answers.has(id)) {
      const answer = { status: "reading", value: null, error: null };
      lay.answers.set(id, answer);
      ask().then((value) => Object.assign(answer, { status: "done", value }),
        (e) => Object.assign(answer, { status: "error", error: e.message }))
        .then(() => { if (state.layout === lay) render(); });
    }
    return lay.answers.get(id);
  }

  /** The referrers of the shown registry manifest (`digest`, null at the root), through ferry serve. */
  const referrersAtHand = (lay, digest) => answerAtHand(lay, "referrers", digest ?? "", () => app.proxy.referrers(lay.name, digest));

  /** The policy's verdict for the registry image `lay` is, through ferry serve. */
  const verdictAtHand = (lay) => answerAtHand(lay, "verdict", "", () => app.proxy.verdict(lay.name));

  /** Shows a config of `lay` below the image table, fetching it through ferry serve when needed. */
  async function showConfig(lay, digest) {
    let bytes = lay.blobs.get(digest);
    if (!bytes) {
      try {
        bytes = (await app.proxy.blob(lay.name, digest)).bytes;
        lay.blobs.set(digest, bytes);
      } catch (e) {
        setStatus(e.message, true);
        return;
      }
    }
    showConfigText(bytes, digest);
  }

  /** A chosen file: an oci-archive tar opens as a layout, anything else is a manifest. */
  async function readFile(file) {
    if (!app.ferry) {
      setStatus("ferry-core is still loading; try again in a moment.", true);
      return;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    state.mediaType = "";
    let layout;
    try {
      layout = layoutOfFile(bytes, file.name, app.ferry);
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
    if (layout) {
      openLayout(layout);
      return;
    }
    state.layout = null;
    setBytes(bytes, "file", file.name);
  }

  /** Files of a folder (path → bytes) as a layout named `name`. */
  function readFolder(files, name) {
    let layout;
    try {
      layout = readLayout(files, name);
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
    openLayout(layout);
  }

  /** Asks whether ferry serve hosts the page, and enables the registry row if so. */
  async function detectProxy() {
    const { available, why } = await app.proxy.detect();
    state.proxy = { available, checked: true, why };
    renderRegistryRow(state.proxy);
  }

  /** Restores the view a link (location.hash) describes. */
  async function applyLink() {
    const link = readLink(location.hash);
    applyControls(state, link);
    const request = linkRequest(link, state);
    switch (request.kind) {
      case "needs-proxy": setStatus(request.message, true); return;
      case "read": await readRegistry(request.reference, request.digest); break;
      case "follow": await openDigest(request.digest); break;
      case "show": setBytes(request.bytes, "url"); break;
      case "bad-bytes": setStatus(request.message, true); render(); return;
      default: render();
    }
    // The layer and the file in it, once the manifest is shown.
    if (link.fs && !state.fsView) await openFilesystem();
    const cmp = link.cmp?.split(",");
    const shown = state.compareView;
    if (cmp?.length === 2 && (shown?.a.digest !== cmp[0] || shown?.b.digest !== cmp[1])) await compare(cmp[0], cmp[1]);
    else if (link.with && shown?.with !== link.with) await compareWith(link.with);
    const open = state.layerView;
    if (link.layer && open?.digest !== link.layer) await openLayer(link.layer, link.file);
    else if (link.layer && link.file && open?.file?.path !== link.file) await openFile(link.file);
    else if (link.layer) renderLayer(app);
    if (link.fs) renderFilesystem(app);
    if (link.fm === "hex" && state.layerView?.file) fileMode("hex");
  }

  /**
   * The listing of layer `digest` (read once, then kept). `hashed`: with
   * its small files' content digests (LIMITS.hash), for a comparison; a
   * listing kept without them is read again.
   */
  async function listCached(digest, ref = null, size = null, hashed = false) {
    let listed = state.layerCache.get(digest);
    if (!listed || (hashed && !listed.hashed)) {
      const hashUpTo = hashed ? LIMITS.hash : 0;
      listed = { ...(await listLayer(await layerStream(digest, ref), app.ferry, { zstd: app.zstd, size, hashUpTo })), hashed };
      state.layerCache.set(digest, listed);
    }
    return listed;
  }

  /** The layers of an image manifest's bytes: [{ digest, size }] (empty layers of schema 1 left out). */
  function layersOf(bytes) {
    return app.ferry.inspect(bytes).layers.filter((l) => !l.emptyLayer).map((l) => ({ digest: l.digest, size: l.size }));
  }

  /** Reads every layer of `layers` and stacks them in order (ferry-core, through the layer module): mergeLayers' answer. */
  async function mergedOf(layers, ref = null, progress = () => {}, hashed = false) {
    const lists = [];
    for (const [i, l] of layers.entries()) {
      progress(i);
      try {
        lists.push(await listCached(l.digest, ref, l.size ?? null, hashed));
      } catch (e) {
        throw new Error(`layer #${i} ${l.digest}: ${e.message}`);
      }
    }
    return mergeLayers(lists, await app.layerModule.stack(lists));
  }

  /** Shows the shown image's filesystem: all its layers applied in order. */
  async function openFilesystem() {
    let layers;
    try {
      layers = layersOf(state.bytes);
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
    const view = { status: "reading", digests: layers.map((l) => l.digest), read: 0 };
    state.fsView = view;
    renderFilesystem(app);
    updateLink();
    const started = performance.now();
    try {
      view.merged = await mergedOf(layers, null, (i) => { view.read = i; if (state.fsView === view) renderFilesystem(app); });
      view.status = "done";
      setStatus(`Applied ${layers.length} layers.`);
    } catch (e) {
      Object.assign(view, { status: "error", error: e.message });
      setStatus(e.message, true);
    }
    view.readMs = performance.now() - started;
    if (state.fsView === view) renderFilesystem(app);
  }

  /** An entry of the shown list: its manifest's bytes (from the layout, or read through ferry serve). */
  async function entryManifest(digest) {
    const lay = state.layout;
    if (lay?.blobs.has(digest)) return lay.blobs.get(digest);
    if (!lay?.remote) throw new Error(lay ? `${digest} is not in ${lay.name}` : `Open a layout, an archive or a registry image to compare its entries.`);
    const m = await app.proxy.manifest(lay.name, digest);
    lay.blobs.set(digest, m.bytes);
    lay.types.set(digest, m.mediaType);
    return m.bytes;
  }

  /** The entries of the shown list (none for an image). */
  function shownEntries() {
    try { return app.ferry.inspect(state.bytes).manifests ?? []; } catch { return []; }
  }

  /**
   * Runs a comparison: `view.a` and `view.b` ({ digest, label, ref }) get
   * their `layers` from `manifestOf(side)` (the image manifest's bytes),
   * then both filesystems are merged and compared (ferry-core, through the
   * layer module).
   */
  async function runCompare(view, manifestOf) {
    state.compareView = view;
    renderCompare(app);
    updateLink();
    setStatus(`Comparing ${view.a.label} with ${view.b.label}…`);
    try {
      const sides = [];
      for (const side of [view.a, view.b]) {
        side.layers = layersOf(await manifestOf(side));
        sides.push({ digests: side.layers.map((l) => l.digest), merged: await mergedOf(side.layers, side.ref, undefined, true) });
      }
      const [a, b] = sides.map(comparedSide);
      view.result = compareFilesystems(a, b, await app.layerModule.compare(a, b));
      view.status = "done";
      setStatus(`Compared ${view.a.label} with ${view.b.label}: ${view.result.files.length} paths differ.`);
    } catch (e) {
      Object.assign(view, { status: "error", error: e.message });
      setStatus(e.message, true);
    }
    if (state.compareView === view) renderCompare(app);
  }

  /** Compares two entries of the shown list: shared layers, files that differ, sizes. */
  async function compare(a, b) {
    const entries = shownEntries();
    const label = (d) => {
      const i = entries.findIndex((m) => m.digest === d);
      return i < 0 ? d : `#${i} ${platformText(entries[i].platform)}`;
    };
    const view = { status: "reading", a: { digest: a, label: label(a), ref: null }, b: { digest: b, label: label(b), ref: null }, with: null };
    await runCompare(view, (side) => entryManifest(side.digest));
  }

  /**
   * Compares the shown image (for a list, entry `a`) with the image another
   * reference names (another tag); a list there gives the entry ferry-core
   * chooses for this image's platform.
   */
  async function compareWith(text, a = null) {
    const lay = state.layout;
    if (!lay?.remote) { setStatus("Comparing with another reference needs a registry image read through ferry serve.", true); return; }
    let other;
    try {
      other = registryReference(text, app.ferry.parseReference);
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
    $("compare-ref").value = other.reference;
    const entries = shownEntries();
    const entry = entries.find((m) => m.digest === a) ?? entries[0] ?? null;
    const here = entry
      ? { digest: entry.digest, label: `${lay.name} #${entries.indexOf(entry)} ${platformText(entry.platform)}`, ref: null, platform: entry.platform ? platformQuery(entry.platform) : null }
      : { digest: currentDigest(state) ?? app.ferry.digest(state.bytes), label: lay.name, ref: null, bytes: state.bytes, platform: null };
    const view = { status: "reading", a: here, b: { digest: null, label: other.label, ref: other.reference }, with: other.reference };
    await runCompare(view, async (side) => {
      if (side === view.a) return side.bytes ?? entryManifest(side.digest);
      const top = await app.proxy.manifest(other.reference);
      if (!Array.isArray(app.ferry.inspect(top.bytes).manifests)) {
        side.digest = app.ferry.digest(top.bytes);
        return top.bytes;
      }
      const platform = view.a.platform ?? (await imagePlatform(view.a));
      const chosen = app.ferry.chooseInstance(top.bytes, platform);
      side.digest = chosen.digest;
      side.label = `${other.label} (${platform})`;
      return (await app.proxy.manifest(other.reference, chosen.digest)).bytes;
    });
  }

  /** The platform (`os/arch[/variant]`) an image's config records, read through ferry serve. */
  async function imagePlatform(side) {
    const ins = app.ferry.inspect(side.bytes ?? (await entryManifest(side.digest)));
    const digest = ins.config?.digest;
    if (!digest) throw new Error("this image has no config to say its platform, so an entry of the other list cannot be chosen");
    const lay = state.layout;
    const bytes = lay.blobs.get(digest) ?? (await app.proxy.blob(lay.name, digest)).bytes;
    const c = JSON.parse(decoder.decode(bytes));
    return `${c.os}/${c.architecture}${c.variant ? "/" + c.variant : ""}`;
  }


  /** The layer `digest` of the shown layout or registry image (or of the repository `ref` names), as a stream. */
  function layerStream(digest, ref = null) {
    const lay = state.layout;
    if (ref) return app.proxy.layer(ref, digest);
    if (lay?.remote) return app.proxy.layer(lay.name, digest);
    const bytes = lay?.blobs.get(digest);
    if (!bytes) throw new Error(lay ? `${digest} is not in ${lay.name}` : `Open a layout, an archive or a registry image to read layer ${digest}.`);
    return new Blob([bytes]).stream();
  }

  /** The size the shown manifest's descriptor declares for layer `digest`, or null. */
  function shownLayerSize(digest) {
    try {
      return app.ferry.inspect(state.bytes).layers?.find((l) => l.digest === digest)?.size ?? null;
    } catch {
      return null;
    }
  }

  /** Lists the layer `digest` as a tree below the image's tables; then opens `file` in it, if given. */
  async function openLayer(digest, file = null) {
    const view = { digest, status: "reading", entries: [], problems: [], file: null };
    state.layerView = view;
    renderLayer(app);
    updateLink();
    setStatus(`Reading layer ${digest}…`);
    const started = performance.now();
    try {
      const listed = await listCached(digest, null, shownLayerSize(digest));
      const tree = layerTree(listed.entries);
      Object.assign(view, { status: "done", format: listed.format, entries: listed.entries, tree, problems: tree.problems });
    } catch (e) {
      Object.assign(view, { status: "error", error: e.message });
    }
    view.listMs = performance.now() - started;
    if (state.layerView !== view) return;
    renderLayer(app);
    layerStatus(view);
    updateLink();
    if (file && view.status === "done") await openFile(file);
  }

  /** The member holding the data of the file at `path` in the open layer (a hard link's target's), or null. */
  function dataMember(view, path) {
    const entry = view.entries.findLast((e) => e.path === path && (e.type === "file" || e.type === "hardlink"));
    if (entry?.type !== "hardlink") return entry ?? null;
    return view.entries.findLast((e) => e.index < entry.index && e.path === entry.linkPath && e.type === "file") ?? null;
  }

  /** Opens the file at `path` of the open layer: its first bytes (LIMITS.text), as text or hex. */
  async function openFile(path) {
    const view = state.layerView;
    if (!view || view.status !== "done") return;
    const member = dataMember(view, path);
    const file = { path, mode: "text", bytes: null, size: member?.size ?? 0 };
    view.file = file;
    if (!member) file.error = `${path} is not a file of this layer`;
    renderFile(app);
    updateLink();
    if (!member) { setStatus(file.error, true); return; }
    try {
      Object.assign(file, await readMember(await layerStream(view.digest), app.ferry, member.index, LIMITS.text, { zstd: app.zstd, size: shownLayerSize(view.digest) }));
      setStatus(`Opened ${path} (${file.size} bytes).`);
    } catch (e) {
      file.error = e.message;
      setStatus(e.message, true);
    }
    if (view.file === file) renderFile(app);
  }

  /** Shows the open file as text or hex. */
  function fileMode(mode) {
    const file = state.layerView?.file;
    if (!file) return;
    file.mode = mode;
    renderFile(app);
    updateLink();
  }

  /** Downloads the whole open file (read from the layer again). */
  async function downloadFile() {
    const view = state.layerView;
    const member = view?.file && dataMember(view, view.file.path);
    if (!member) return;
    setStatus(`Reading ${view.file.path} (${member.size} bytes) to download…`);
    try {
      const got = await readMember(await layerStream(view.digest), app.ferry, member.index, member.size, { zstd: app.zstd, size: shownLayerSize(view.digest) });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([got.bytes], { type: "application/octet-stream" }));
      a.download = view.file.path.split("/").pop();
      a.click();
      setStatus(`Downloaded ${view.file.path}.`);
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  /** Downloads the open layer's blob exactly as stored (compressed). */
  async function downloadLayer() {
    const view = state.layerView;
    if (!view) return;
    try {
      const stored = await new Response(await layerStream(view.digest)).blob();
      const blob = new Blob([stored], { type: "application/octet-stream" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = view.digest.replace(":", "-") + ({ tar: ".tar", gzip: ".tar.gz", zstd: ".tar.zst" }[view.format] ?? "");
      a.click();
      setStatus(`Downloaded layer ${view.digest} (${blob.size} bytes).`);
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  function closeLayer() {
    state.layerView = null;
    state.fsView = null;
    state.compareView = null;
    renderLayer(app);
    renderFilesystem(app);
    renderCompare(app);
    updateLink();
  }

  return {
    updateLink, render, edit, openLayout, openDigest, goBackTo, readRegistry, blobAtHand, instancesAtHand, showConfig,
    readFile, readFolder, detectProxy, applyLink, openLayer, openFile, fileMode, downloadFile, closeLayer,
    openFilesystem, compare, compareWith, downloadLayer, referrersAtHand, verdictAtHand,
  };
}
