// The page's state and the ways it changes: opening a layout, following
// digests through it, going back.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  backTo, createState, currentDigest, edited, enterDigest, enterLayout, readFailed, rootName, showBytes, shownLayout, showingRegistry,
} from "../../src/state.js";

const bytes = (s) => new TextEncoder().encode(s);

function localLayout() {
  return { name: "demo.tar", kind: "OCI layout", blobs: new Map([["sha256:1", bytes("one")]]), root: bytes("index"), rootLabel: "index.json" };
}
function registryLayout() {
  return {
    name: "docker://h/r:t", kind: "registry", remote: true, blobs: new Map([["sha256:1", bytes("one")]]),
    types: new Map([["sha256:1", "application/vnd.oci.image.manifest.v1+json"]]), pending: new Set(),
    root: bytes("index"), rootType: "application/vnd.oci.image.index.v1+json", rootLabel: "h/r:t",
  };
}

test("a fresh state shows nothing, from the text box, without a layout", () => {
  const state = createState();
  assert.equal(state.bytes.length, 0);
  assert.equal(state.source, "paste");
  assert.equal(shownLayout(state), null);
  assert.equal(state.proxy.available, false);
});

test("opening a layout shows its root, named NAME/index.json, at the start of the trail", () => {
  const state = createState();
  const lay = localLayout();
  assert.deepEqual(enterLayout(state, lay), { bytes: lay.root, name: "demo.tar/index.json" });
  assert.deepEqual(state.trail, [{ label: "index.json", digest: null }]);
  assert.equal(state.mediaType, "");
});

test("a registry image's root is named by its reference and typed as the registry said", () => {
  const state = createState();
  const lay = registryLayout();
  assert.equal(enterLayout(state, lay).name, "docker://h/r:t");
  assert.equal(state.mediaType, "application/vnd.oci.image.index.v1+json");
  showBytes(state, lay.root, "layout", rootName(lay));
  assert.equal(showingRegistry(state), true);
  assert.equal(shownLayout(state), lay);
});

test("following a digest extends the trail with its short form and takes the type the source reported", () => {
  const state = createState();
  const lay = registryLayout();
  enterLayout(state, lay);
  assert.deepEqual(enterDigest(state, lay, "sha256:1"), { bytes: lay.blobs.get("sha256:1"), name: "sha256:1" });
  assert.deepEqual(state.trail.map((s) => s.digest), [null, "sha256:1"]);
  assert.equal(currentDigest(state), "sha256:1");
  assert.equal(state.mediaType, "application/vnd.oci.image.manifest.v1+json");
});

test("a digest the layout lacks, or a read that ends after another layout opened, changes nothing", () => {
  const state = createState();
  const lay = localLayout();
  enterLayout(state, lay);
  assert.equal(enterDigest(state, lay, "sha256:missing"), null);
  enterLayout(state, localLayout());
  assert.equal(enterDigest(state, lay, "sha256:1"), null);
  assert.equal(state.trail.length, 1);
});

test("going back to a step of the trail shows it again and drops what followed", () => {
  const state = createState();
  const lay = registryLayout();
  enterLayout(state, lay);
  enterDigest(state, lay, "sha256:1");
  assert.deepEqual(backTo(state, 0), { bytes: lay.root, name: "docker://h/r:t" });
  assert.equal(state.trail.length, 1);
  assert.equal(state.mediaType, "application/vnd.oci.image.index.v1+json");
});

test("editing the text makes the bytes a paste with no reported type; the layout stays loaded but not shown", () => {
  const state = createState();
  const lay = registryLayout();
  enterLayout(state, lay);
  showBytes(state, lay.root, "layout", rootName(lay));
  edited(state, bytes("{}"));
  assert.equal(state.source, "paste");
  assert.equal(state.fileName, null);
  assert.equal(state.mediaType, "");
  assert.equal(state.layout, lay);
  assert.equal(shownLayout(state), null);
  assert.equal(showingRegistry(state), false);
});

test("a failed read is remembered per digest with its message", () => {
  const lay = registryLayout();
  readFailed(lay, "sha256:2", "502");
  assert.equal(lay.failed.get("sha256:2"), "502");
});
