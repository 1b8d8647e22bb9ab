// The inspector's state: one object, created here and passed to whatever
// reads or changes it. The functions below are the only ways the shown
// bytes and the trail through a layout change; they touch no DOM and
// return what to show.

/** A fresh state: nothing shown, no layout, ferry serve not yet asked. */
export function createState() {
  return {
    bytes: new Uint8Array(), // the shown manifest's exact bytes
    source: "paste", // "paste" | "file" | "url" | "layout"
    fileName: null, // what the bytes are: a file name, a layout path, a digest or a reference
    // A loaded OCI layout / oci-archive / dir: folder, or a registry image
    // read through ferry serve (remote: true; its blobs map caches what was
    // fetched, pending what is being fetched, failed: digest → why it could
    // not be read). See layout.js.
    layout: null,
    trail: [], // the path followed through the layout: [{ label, digest | null }]
    mediaType: "", // the type the source reported for the shown bytes ("" when none did)
    proxy: { available: false, checked: false, why: null }, // whether ferry serve hosts the page
    planWanted: null, // instance digests a link chose for the copy plan, until its boxes exist
    shaToken: 0, // the latest plain-sha256 computation (older ones are dropped)
    // The open layer: { digest, status: "reading" | "done" | "error", error,
    // format, entries (layer.js), tree (tree.js), problems, listMs,
    // file: { path, bytes, size, complete, mode: "text" | "hex", error } | null }
    layerView: null,
    // Layer listings already read (digest → { format, entries }), shared by
    // the filesystem and comparison views.
    layerCache: new Map(),
    // The image's filesystem: { status, digests, read, merged (tree.js's mergeLayers), readMs, error }
    fsView: null,
    // Two entries of a list compared: { status, a, b ({ digest, label, layers }), result, error }
    compareView: null,
  };
}

/** The layout being shown, or null when the shown bytes are not from one. */
export function shownLayout(state) {
  return state.layout && state.source === "layout" ? state.layout : null;
}

/** Whether the shown bytes come from a registry read through ferry serve. */
export function showingRegistry(state) {
  return !!(state.layout?.remote && state.source === "layout");
}

/** The digest the trail ends at (null at the layout's root). */
export function currentDigest(state) {
  return state.trail[state.trail.length - 1]?.digest ?? null;
}

/** What the root of a layout is called: its reference, or `NAME/index.json`. */
export function rootName(layout) {
  return layout.remote ? layout.name : `${layout.name}/${layout.rootLabel}`;
}

/** Shows bytes from `source`. */
export function showBytes(state, bytes, source, fileName = null) {
  state.bytes = bytes;
  state.source = source;
  state.fileName = fileName;
}

/** The text box was edited: its bytes are a paste, with no reported type. */
export function edited(state, bytes) {
  showBytes(state, bytes, "paste");
  state.mediaType = "";
}

/** Opens a layout at its root: `{ bytes, name }` to show. */
export function enterLayout(state, layout) {
  state.layout = layout;
  state.trail = [{ label: layout.rootLabel, digest: null }];
  state.mediaType = layout.rootType ?? "";
  return { bytes: layout.root, name: rootName(layout) };
}

/**
 * Follows `digest` in `layout`: `{ bytes, name }` to show, or null when the
 * layout lacks it or is no longer the open one (a read that came late).
 */
export function enterDigest(state, layout, digest) {
  const bytes = layout.blobs.get(digest);
  if (!bytes || state.layout !== layout) return null;
  state.trail.push({ label: digest.slice(0, 19), digest });
  state.mediaType = layout.types?.get(digest) ?? "";
  return { bytes, name: digest };
}

/** Goes back to step `i` of the trail: `{ bytes, name }` to show. */
export function backTo(state, i) {
  state.trail = state.trail.slice(0, i + 1);
  const step = state.trail[i];
  const lay = state.layout;
  state.mediaType = (step.digest ? lay.types?.get(step.digest) : lay.rootType) ?? "";
  return step.digest ? { bytes: lay.blobs.get(step.digest), name: step.digest } : { bytes: lay.root, name: rootName(lay) };
}

/** Records that `digest` of `layout` could not be read through ferry serve. */
export function readFailed(layout, digest, message) {
  layout.failed = layout.failed ?? new Map();
  layout.failed.set(digest, message);
}
