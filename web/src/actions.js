// What the page does in answer to input: show bytes, open layouts and
// registry images, follow digests and go back, fetch what a view needs
// through ferry serve. Every action takes the one `app` object:
//   { state (state.js), ferry (the wasm package, once loaded), proxy (proxy.js), actions }

import { decoder } from "./format.js";
import { layoutOfFile, readLayout, remoteLayout } from "./layout.js";
import { linkRequest, readLink, writeLink } from "./link.js";
import { registryReference } from "./reference.js";
import {
  backTo, currentDigest, edited, enterDigest, enterLayout, readFailed, showBytes, shownLayout, showingRegistry,
} from "./state.js";
import { applyControls, controlsView, renderLink, renderRegistryRow } from "./views/controls.js";
import { $, setStatus } from "./views/dom.js";
import { showConfigText } from "./views/image.js";
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
    }));
  }

  /** Puts the view in the link, then renders the page. */
  function render() {
    updateLink();
    renderPage(app);
  }

  function setBytes(bytes, source, fileName = null) {
    showBytes(state, bytes, source, fileName);
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
    showConfigText(bytes);
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
  function applyLink() {
    const link = readLink(location.hash);
    applyControls(state, link);
    const request = linkRequest(link, state);
    switch (request.kind) {
      case "needs-proxy": setStatus(request.message, true); return;
      case "read": readRegistry(request.reference, request.digest); return;
      case "follow": openDigest(request.digest); return;
      case "show": setBytes(request.bytes, "url"); return;
      case "bad-bytes": setStatus(request.message, true); render(); return;
      default: render();
    }
  }

  return {
    updateLink, render, edit, openLayout, openDigest, goBackTo, readRegistry, blobAtHand, instancesAtHand, showConfig,
    readFile, readFolder, detectProxy, applyLink,
  };
}
