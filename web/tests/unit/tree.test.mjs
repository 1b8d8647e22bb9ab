// Layers applied in order, as a container sees them: ferry-core's stacking
// (through the layer module, as the page loads it) arranged as a tree by
// tree.js. The entries are as listLayer answers them (ferry-core's reading
// of the names). The rules themselves are specified in core/tests/stack.rs
// and core/tests/compare.rs.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { layerModule } from "../../src/layer-module.js";
import { compareFilesystems as arrangeComparison, comparedSide, findNode, mergeLayers as arrange, treeRows } from "../../src/tree.js";

const here = dirname(fileURLToPath(import.meta.url));
const layerWasm = join(here, "..", "..", "..", "wasm", "pkg", "layer", "ferry_layer.wasm");
assert.ok(existsSync(layerWasm), "wasm/pkg/layer is missing: run bash scripts/build-wasm-pkg.sh");
const { stack, compare } = layerModule(() => readFileSync(layerWasm));
/** The layers stacked by ferry-core and arranged as the page shows them. */
const mergeLayers = async (lists) => arrange(lists, await stack(lists));
/** Two merged filesystems compared by ferry-core and arranged as the page shows them. */
const compareFilesystems = async (a, b) => {
  const [x, y] = [comparedSide(a), comparedSide(b)];
  return arrangeComparison(x, y, await compare(x, y));
};

const dir = (path) => ({ path, type: "dir", mode: 0o755, size: 0 });
const file = (path, size = 1) => ({ path, type: "file", mode: 0o644, size });
const whiteout = (target) => ({ path: target.replace(/[^/]*$/, (b) => `.wh.${b}`), whiteout: target });
const opaque = (d) => ({ path: `${d}/.wh..wh..opq`, opaque: d });
const view = ({ root }) => treeRows(root).map((r) => `${r.node.path}@${r.node.layer}`);

test("an upper layer's file replaces the lower one's and is counted as changed", async () => {
  const merged = await mergeLayers([{ entries: [dir("etc"), file("etc/hostname", 4)] }, { entries: [file("etc/hostname", 9)] }]);
  assert.deepEqual(view(merged), ["etc@0", "etc/hostname@1"]);
  assert.equal(findNode(merged.root, "etc/hostname").entry.size, 9);
  assert.deepEqual(merged.changes[1], { added: [], changed: ["etc/hostname"], deleted: [] });
});

test("a whiteout deletes the lower path and everything below it", async () => {
  const merged = await mergeLayers([{ entries: [dir("a"), file("a/x"), dir("a/b"), file("a/b/y"), file("keep")] }, { entries: [whiteout("a")] }]);
  assert.deepEqual(view(merged), ["keep@0"]);
  assert.deepEqual(merged.changes[1], { added: [], changed: [], deleted: ["a"] });
});

test("a whiteout never deletes what its own layer adds: the lower path is deleted, the layer's own added", async () => {
  const merged = await mergeLayers([{ entries: [file("x")] }, { entries: [file("x", 5), whiteout("x")] }]);
  assert.deepEqual(view(merged), ["x@1"]);
  assert.deepEqual(merged.changes[1], { added: ["x"], changed: [], deleted: ["x"] });
});

test("an opaque directory hides the lower layers' content in it, keeping its own", async () => {
  const merged = await mergeLayers([{ entries: [dir("var"), file("var/old"), file("var/lib/db")] }, { entries: [dir("var"), opaque("var"), file("var/new")] }]);
  assert.deepEqual(view(merged), ["var@1", "var/new@1"]);
  assert.deepEqual(merged.changes[1].deleted.sort(), ["var/lib", "var/old"]);
});

test("a file over a lower directory replaces the whole directory", async () => {
  const merged = await mergeLayers([{ entries: [dir("d"), file("d/inside")] }, { entries: [file("d")] }]);
  assert.deepEqual(view(merged), ["d@1"]);
});

test("a whiteout of a path no lower layer has deletes nothing", async () => {
  const merged = await mergeLayers([{ entries: [file("a")] }, { entries: [whiteout("b")] }]);
  assert.deepEqual(merged.changes[1], { added: [], changed: [], deleted: [] });
});

test("refused names and AUFS metadata change nothing", async () => {
  const merged = await mergeLayers([{ entries: [{ error: "\"../x\": path \"../x\" has a '..' component" }, { path: ".wh..wh.plnk/1", aufs: true }, file("ok")] }]);
  assert.deepEqual(view(merged), ["ok@0"]);
  assert.deepEqual(merged.changes[0].added, ["ok"]);
});

test("two filesystems compared: shared layers, and the files only one has or that differ", async () => {
  const base = [dir("etc"), file("etc/hostname", 4), file("etc/same", 2)];
  const a = { digests: ["sha256:base", "sha256:a"], merged: await mergeLayers([{ entries: base }, { entries: [file("only-a"), file("etc/same", 2)] }]) };
  const b = { digests: ["sha256:base", "sha256:b"], merged: await mergeLayers([{ entries: base }, { entries: [file("etc/hostname", 9), file("only-b")] }]) };
  const { layers, files } = await compareFilesystems(a, b);
  assert.deepEqual(layers, { shared: ["sha256:base"], onlyA: ["sha256:a"], onlyB: ["sha256:b"] });
  assert.deepEqual(files.map((f) => [f.path, f.how]), [["etc/hostname", "metadata"], ["etc/same", "content?"], ["only-a", "only-a"], ["only-b", "only-b"]]);
});

test("files with the same metadata from different layers: the same content digest is the same file, another differs in content", async () => {
  const hashed = (path, sha256) => ({ ...file(path, 3), sha256 });
  const a = { digests: ["sha256:a"], merged: await mergeLayers([{ entries: [hashed("same", "sha256:1"), hashed("other", "sha256:2"), file("big", 3)] }]) };
  const b = { digests: ["sha256:b"], merged: await mergeLayers([{ entries: [hashed("same", "sha256:1"), hashed("other", "sha256:3"), file("big", 3)] }]) };
  assert.deepEqual((await compareFilesystems(a, b)).files.map((f) => [f.path, f.how]), [["big", "content?"], ["other", "content"]]);
});
