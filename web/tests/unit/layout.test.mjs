// Reading layouts from the files the browser gives the page: an OCI layout
// (folder or oci-archive tar) and a dir: folder. Fixtures: ../fixtures/.
// Tars are read by ferry-core's rules: the wasm package's node build
// (wasm/pkg, built by scripts/build-wasm-pkg.sh).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { filesOfList, layoutOfFile, readLayout, remoteLayout } from "../../src/layout.js";
import { untar } from "../../src/tar.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "..", "wasm", "pkg", "node", "ferry_wasm.js");
assert.ok(existsSync(pkg), "wasm/pkg is missing: run bash scripts/build-wasm-pkg.sh");
const ferry = createRequire(import.meta.url)(pkg);

const fixtures = join(here, "..", "fixtures");
const sha = (b) => "sha256:" + createHash("sha256").update(b).digest("hex");

/** A folder as <input webkitdirectory> gives it: paths start with the folder's own name. */
function folder(name) {
  const dir = join(fixtures, name);
  return new Map(readdirSync(dir).map((f) => [`${name}/${f}`, new Uint8Array(readFileSync(join(dir, f)))]));
}

test("a dir: folder holding a list: manifest.json is the root, <hex> blobs and <hex>.manifest.json instances are its blobs", () => {
  const layout = readLayout(folder("demo-list-dir"), "demo-list-dir");
  assert.equal(layout.kind, "dir: folder");
  assert.equal(layout.rootLabel, "manifest.json");
  const list = JSON.parse(new TextDecoder().decode(layout.root));
  for (const m of list.manifests) {
    assert.ok(layout.blobs.has(m.digest), `instance ${m.digest}`);
    assert.equal(sha(layout.blobs.get(m.digest)), m.digest);
  }
  // 4 instance manifests and 9 blobs; "version" and manifest.json itself are not blobs.
  assert.equal(layout.blobs.size, 13);
  assert.ok([...layout.blobs.keys()].every((d) => /^sha256:[a-f0-9]{64}$/.test(d)));
});

test("an oci-archive tar is an OCI layout: index.json is the root, blobs/ALG/HEX its blobs", () => {
  const bytes = new Uint8Array(readFileSync(join(fixtures, "tar", "demo-oci-archive.tar")));
  const layout = layoutOfFile(bytes, "demo.tar", ferry);
  assert.equal(layout.kind, "OCI layout");
  assert.equal(layout.name, "demo.tar");
  assert.equal(layout.rootLabel, "index.json");
  assert.equal(layout.blobs.size, 14);
  const index = JSON.parse(new TextDecoder().decode(layout.root));
  const list = layout.blobs.get(index.manifests[0].digest);
  assert.equal(sha(list), index.manifests[0].digest);
});

test("the same OCI layout as a folder: the folder's own name is stripped from the paths", () => {
  const files = untar(new Uint8Array(readFileSync(join(fixtures, "tar", "demo-oci-archive.tar"))), ferry);
  const asFolder = new Map([...files].map(([p, b]) => [`demo-layout/${p}`, b]));
  const layout = readLayout(asFolder, "demo-layout");
  assert.equal(layout.kind, "OCI layout");
  assert.equal(layout.blobs.size, 14);
});

test("a file that is not a tar is not a layout", () => {
  assert.equal(layoutOfFile(new TextEncoder().encode('{"schemaVersion":2}'), "m.json", ferry), null);
});

test("a compressed archive is refused, naming its compression", () => {
  const gzip = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
  assert.throws(() => layoutOfFile(gzip, "demo.tar.gz", ferry),
    { message: "demo.tar.gz: the archive is gzip-compressed; the page reads plain tars only (decompress it first)" });
});

test("files that are neither layout say so, naming what was loaded", () => {
  assert.throws(() => readLayout(new Map([["x/readme", new Uint8Array()]]), "x"),
    { message: "x: neither an OCI layout (no index.json) nor a dir: folder (no manifest.json)" });
});

test("dir: names that are not 64 hex digits, or manifests of other names, are not blobs", () => {
  const hex = "a".repeat(64);
  const layout = readLayout(new Map([
    ["manifest.json", new Uint8Array([1])], [hex, new Uint8Array([2])], [`${hex}.signature-1`, new Uint8Array([3])],
    ["abc", new Uint8Array([4])], [`${"b".repeat(64)}.manifest.json`, new Uint8Array([5])],
  ]), "d");
  assert.deepEqual([...layout.blobs.keys()].sort(), [`sha256:${hex}`, `sha256:${"b".repeat(64)}`]);
});

test("the files of a folder input are keyed by their relative path", async () => {
  const list = [
    Object.assign(new File(["a"], "index.json"), { webkitRelativePath: "lay/index.json" }),
    new File(["b"], "loose"),
  ];
  const files = await filesOfList(list);
  assert.deepEqual([...files.keys()], ["lay/index.json", "loose"]);
  assert.equal(new TextDecoder().decode(files.get("lay/index.json")), "a");
});

test("a registry image is a remote layout with nothing fetched yet", () => {
  const root = new Uint8Array([1]);
  const layout = remoteLayout("docker://localhost:5000/demo:latest", "localhost:5000/demo:latest", root, "application/vnd.oci.image.index.v1+json");
  assert.equal(layout.remote, true);
  assert.equal(layout.root, root);
  assert.equal(layout.rootType, "application/vnd.oci.image.index.v1+json");
  assert.equal(layout.blobs.size + layout.types.size + layout.pending.size, 0);
});
