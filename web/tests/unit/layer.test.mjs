// Reading layers as streams in the page: the fixtures are in
// ../fixtures/layer/ (written by make.py there). What names mean is
// ferry-core's, through the wasm package's node build.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { LayerError, LIMITS, listLayer, readMember } from "../../src/layer.js";
import { layerModule } from "../../src/layer-module.js";
import { tarHeader } from "../tar-header.mjs";
import { layerTree, modeText, totalSize, treeRows } from "../../src/tree.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "..", "wasm", "pkg", "node", "ferry_wasm.js");
assert.ok(existsSync(pkg), "wasm/pkg is missing: run bash scripts/build-wasm-pkg.sh");
const ferry = createRequire(import.meta.url)(pkg);
// The layer module, with the zstd decoder, as the page loads it (built beside the package).
const layerWasm = join(here, "..", "..", "..", "wasm", "pkg", "layer", "ferry_layer.wasm");
const { zstd } = layerModule(() => readFileSync(layerWasm));

const fixture = (name) => new Uint8Array(readFileSync(join(here, "..", "fixtures", "layer", name)));
/** A stream of `bytes` in chunks of `size`, as a network read gives them. */
function streamOf(bytes, size = 100) {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) { c.close(); return; }
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}
const byPath = (entries) => new Map(entries.filter((e) => e.path !== undefined).map((e) => [e.path, e]));

test("a gzip layer lists every member with its header fields, names read by ferry-core", async () => {
  const { format, entries } = await listLayer(streamOf(fixture("layer.tar.gz")), ferry);
  assert.equal(format, "gzip");
  const e = byPath(entries);
  assert.deepEqual([...e.keys()], ["etc", "etc/hostname", "etc/.wh.passwd", "bin", "bin/busybox", "bin/sh", "bin/ash", "var", "var/.wh..wh..opq", "var/log"]);
  const hostname = e.get("etc/hostname");
  assert.deepEqual([hostname.type, hostname.size, hostname.mode, hostname.uid, hostname.gid, hostname.uname], ["file", 11, 0o644, 1000, 1000, "ferry"]);
  assert.deepEqual([e.get("bin/sh").type, e.get("bin/sh").linkname], ["symlink", "busybox"]);
  assert.deepEqual([e.get("bin/ash").type, e.get("bin/ash").linkPath], ["hardlink", "bin/busybox"]);
  assert.equal(e.get("etc/.wh.passwd").whiteout, "etc/passwd");
  assert.equal(e.get("var/.wh..wh..opq").opaque, "var");
});

test("an uncompressed layer lists the same members", async () => {
  const plain = await listLayer(streamOf(fixture("layer.tar"), 700), ferry);
  const packed = await listLayer(streamOf(fixture("layer.tar.gz")), ferry);
  assert.equal(plain.format, "tar");
  assert.deepEqual(plain.entries, packed.entries);
});

test("the tree shows a whiteout as a deletion at the path it deletes, and an opaque directory", async () => {
  const { entries } = await listLayer(streamOf(fixture("layer.tar.gz")), ferry);
  const { root, problems } = layerTree(entries);
  assert.deepEqual(problems, []);
  const rows = treeRows(root).map((r) => `${"  ".repeat(r.depth)}${r.node.name}${r.node.deleted ? " (deleted)" : ""}${r.node.opaque ? " (opaque)" : ""}`);
  assert.deepEqual(rows, ["bin", "  ash", "  busybox", "  sh", "etc", "  hostname", "  passwd (deleted)", "var (opaque)", "  log"]);
  assert.equal(totalSize(root), 11 + 14);
  assert.equal(modeText(root.children.get("bin").children.get("sh").entry), "lrwxrwxrwx");
  assert.equal(modeText(root.children.get("etc").entry), "drwxr-xr-x");
});

test("a file's data is read from the stream, up to a limit", async () => {
  const { entries } = await listLayer(streamOf(fixture("layer.tar.gz")), ferry);
  const hostname = entries.find((e) => e.path === "etc/hostname");
  const whole = await readMember(streamOf(fixture("layer.tar.gz")), ferry, hostname.index, 1024);
  assert.deepEqual([new TextDecoder().decode(whole.bytes), whole.size, whole.complete], ["ferry-test\n", 11, true]);
  const part = await readMember(streamOf(fixture("layer.tar.gz")), ferry, hostname.index, 5);
  assert.deepEqual([new TextDecoder().decode(part.bytes), part.complete], ["ferry", false]);
});

test("regular files up to hashUpTo bytes get their content's digest, larger ones and other members none", async () => {
  const sha256 = (text) => "sha256:" + createHash("sha256").update(text, "latin1").digest("hex");
  const { entries } = await listLayer(streamOf(fixture("layer.tar.gz"), 7), ferry, { hashUpTo: 11 });
  const e = byPath(entries);
  assert.equal(e.get("etc/hostname").sha256, sha256("ferry-test\n"));
  assert.equal(e.get("bin/busybox").sha256, undefined, "14 bytes, over the limit");
  assert.deepEqual([e.get("etc").sha256, e.get("bin/sh").sha256, e.get("bin/ash").sha256], [undefined, undefined, undefined]);
  const all = byPath((await listLayer(streamOf(fixture("layer.tar")), ferry, { hashUpTo: LIMITS.hash })).entries);
  assert.equal(all.get("bin/busybox").sha256, sha256("\x7fELF\x02\x01\x01\x00binary"));
  assert.equal(all.get("var/log").sha256, undefined, "a directory");
});

test("a member escaping the root is a problem naming it, the rest still listed", async () => {
  const { entries } = await listLayer(streamOf(fixture("escape.tar.gz")), ferry);
  const { root, problems } = layerTree(entries);
  assert.deepEqual(problems, [`"../../etc/shadow": path "../../etc/shadow" has a '..' component`]);
  assert.deepEqual([...root.children.keys()], ["ok"]);
});

test("a truncated gzip stream ends in a LayerError saying so", async () => {
  await assert.rejects(listLayer(streamOf(fixture("truncated.tar.gz")), ferry),
    (e) => e instanceof LayerError && /gzip stream is truncated or corrupt/.test(e.message));
});

test("a layer expanding past the limit stops as a decompression bomb", async () => {
  await assert.rejects(listLayer(streamOf(fixture("bomb.tar.gz"), 4096), ferry, { limits: { ...LIMITS, expandedMin: 1024 * 1024 } }),
    (e) => e instanceof LayerError && /decompression bomb/.test(e.message));
});

test("a blob that runs past its descriptor's size stops there with a LayerError saying so", async () => {
  const layer = fixture("layer.tar");
  await assert.rejects(listLayer(streamOf(layer, 512), ferry, { size: 2048 }),
    (e) => e instanceof LayerError && e.message === "the layer's blob runs past the 2048 bytes its descriptor declares: reading stopped");
  assert.equal((await listLayer(streamOf(layer, 512), ferry, { size: layer.length })).entries.length, 10);
});

test("a layer with more members than the limit stops with a LayerError saying so", async () => {
  await assert.rejects(listLayer(streamOf(fixture("layer.tar")), ferry, { limits: { ...LIMITS, entries: 5 } }),
    (e) => e instanceof LayerError && e.message === "the layer has more than 5 members: listing stopped");
});

test("a member declaring more bytes than the layer holds ends in a LayerError naming it", async () => {
  await assert.rejects(listLayer(streamOf(fixture("endless.tar")), ferry),
    (e) => e instanceof LayerError && /truncated layer: "endless" declares 8589934592 bytes, the layer ends after 1024/.test(e.message));
});

test("a zstd layer lists the same members through ferry's zstd decoder module", async () => {
  const packed = await listLayer(streamOf(fixture("layer.tar.zst"), 50), ferry, { zstd });
  const plain = await listLayer(streamOf(fixture("layer.tar")), ferry);
  assert.equal(packed.format, "zstd");
  assert.deepEqual(packed.entries, plain.entries);
  const hostname = packed.entries.find((e) => e.path === "etc/hostname");
  const got = await readMember(streamOf(fixture("layer.tar.zst")), ferry, hostname.index, 1024, { zstd });
  assert.equal(new TextDecoder().decode(got.bytes), "ferry-test\n");
});

test("a truncated zstd stream ends in a LayerError saying so", async () => {
  await assert.rejects(listLayer(streamOf(fixture("truncated.tar.zst")), ferry, { zstd }),
    (e) => e instanceof LayerError && /zstd stream is truncated or corrupt \(the zstd stream ends inside a frame\)/.test(e.message));
});

test("a zstd layer without a decoder is refused with what it is", async () => {
  await assert.rejects(listLayer(streamOf(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])), ferry),
    (e) => e instanceof LayerError && /zstd-compressed/.test(e.message));
});

test("bytes that are no archive are refused", async () => {
  await assert.rejects(listLayer(streamOf(new TextEncoder().encode("{\"schemaVersion\":2}")), ferry),
    (e) => e instanceof LayerError && /neither a tar nor compressed data/.test(e.message));
});

test("a 1 GiB layer is listed without holding it: its data streams past", async () => {
  const size = 1024 ** 3;
  const chunk = new Uint8Array(1024 * 1024);
  let sent = 0;
  const stream = new ReadableStream({
    start(c) { c.enqueue(new Uint8Array(tarHeader("big", size))); },
    pull(c) {
      if (sent < size) { c.enqueue(chunk); sent += chunk.length; return; }
      c.enqueue(new Uint8Array(tarHeader("after", 0)));
      c.enqueue(new Uint8Array(1024));
      c.close();
    },
  }, { highWaterMark: 1 });
  const before = process.memoryUsage().arrayBuffers;
  const { entries } = await listLayer(stream, ferry);
  assert.deepEqual(entries.map((e) => [e.path, e.size]), [["big", size], ["after", 0]]);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, "far less than the layer was held");
});
