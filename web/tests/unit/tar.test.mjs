// Reading tars (oci-archives) in the page: the fixtures are in
// ../fixtures/tar/ (written by make.py there; demo-oci-archive.tar by ferry).
// What names, links and types mean is ferry-core's, through the wasm
// package's node build (wasm/pkg, built by scripts/build-wasm-pkg.sh).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { archiveFormat, isTar, TarError, untar as untarWith } from "../../src/tar.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "..", "wasm", "pkg", "node", "ferry_wasm.js");
assert.ok(existsSync(pkg), "wasm/pkg is missing: run bash scripts/build-wasm-pkg.sh");
const ferry = createRequire(import.meta.url)(pkg);

const fixtures = join(here, "..", "fixtures", "tar");
const fixture = (name) => new Uint8Array(readFileSync(join(fixtures, name)));
const text = (bytes) => new TextDecoder().decode(bytes);
const untar = (bytes) => untarWith(bytes, ferry);

test("a well-formed tar gives its regular files under normalised names, directories left out", () => {
  const files = untar(fixture("well-formed.tar"));
  assert.deepEqual([...files.keys()], ["oci-layout", "blobs/sha256/0123", "empty"]);
  assert.equal(text(files.get("oci-layout")), '{"imageLayoutVersion":"1.0.0"}');
  assert.equal(text(files.get("blobs/sha256/0123")), "x".repeat(600));
  assert.equal(files.get("empty").length, 0);
});

test("an oci-archive written by ferry reads as its layout's files", () => {
  const files = untar(fixture("demo-oci-archive.tar"));
  assert.ok(files.has("oci-layout") && files.has("index.json"));
  assert.equal([...files.keys()].filter((p) => p.startsWith("blobs/sha256/")).length, 14);
});

test("a tar that ends after its last member without the end-of-archive marker is read", () => {
  assert.deepEqual([...untar(fixture("no-end-marker.tar")).keys()], ["oci-layout", "blobs/sha256/0123", "empty"]);
});

test("a tar cut inside a member's body is refused, naming the member", () => {
  assert.throws(() => untar(fixture("truncated-body.tar")),
    (e) => e instanceof TarError && /truncated tar: "\.\/blobs\/sha256\/0123" declares 600 bytes, the archive holds 100/.test(e.message));
});

test("a tar cut inside a header is refused", () => {
  assert.throws(() => untar(fixture("truncated-header.tar")),
    (e) => e instanceof TarError && /truncated tar: the header at byte 512 has 200 of its 512 bytes/.test(e.message));
});

test("a name with a '..' component is refused", () => {
  assert.throws(() => untar(fixture("parent-component.tar")),
    (e) => e instanceof TarError && e.message === `"blobs/../../etc/passwd": path "blobs/../../etc/passwd" has a '..' component`);
});

test("an absolute name is refused", () => {
  assert.throws(() => untar(fixture("absolute.tar")), { message: '"/etc/passwd": absolute path "/etc/passwd"' });
});

test("a symbolic link out of the archive is refused", () => {
  assert.throws(() => untar(fixture("symlink-outside.tar")), { message: '"index.json": symbolic link to "../../etc/passwd" points outside the archive' });
});

test("a name given twice is refused, whatever its spelling", () => {
  assert.throws(() => untar(fixture("duplicate.tar")), { message: '"./index.json": duplicate entry "index.json": readers disagree on which copy counts' });
});

test("device files are refused", () => {
  assert.throws(() => untar(fixture("device.tar")), { message: '"dev/null": device files have no place in an image archive' });
});

test("hard and symbolic links inside the archive read as the file they name; a dangling link is left out", () => {
  const files = untar(fixture("links.tar"));
  assert.deepEqual([...files.keys()].sort(), ["blobs/sha256/hard", "blobs/sha256/soft", "blobs/sha256/target"]);
  for (const name of ["blobs/sha256/hard", "blobs/sha256/soft"]) assert.equal(text(files.get(name)), "linked");
});

const LONG = "blobs/sha256/" + "a".repeat(64) + "/" + "b".repeat(100);

test("a GNU long name (type L) names the next member", () => {
  const files = untar(fixture("long-name-gnu.tar"));
  assert.deepEqual([...files.keys()], [LONG]);
  assert.equal(text(files.get(LONG)), "gnu long name");
});

test("a pax path names the next member, UTF-8 included", () => {
  const files = untar(fixture("long-name-pax.tar"));
  assert.deepEqual([...files.keys()], [LONG, "blobs/café"]);
  assert.equal(text(files.get(LONG)), "pax long name");
  assert.equal(text(files.get("blobs/café")), "utf-8 name");
});

test("a ustar name split into prefix and name is joined", () => {
  const files = untar(fixture("long-name-ustar-prefix.tar"));
  assert.deepEqual([...files.keys()], ["blobs/sha256/" + "c".repeat(90) + "/" + "d".repeat(60)]);
});

test("isTar recognises a tar header by its checksum, and nothing shorter than one", () => {
  assert.equal(isTar(fixture("well-formed.tar"), ferry), true);
  assert.equal(isTar(fixture("long-name-gnu.tar"), ferry), true);
  assert.equal(isTar(new TextEncoder().encode('{"schemaVersion":2}'), ferry), false);
  assert.equal(isTar(new Uint8Array(511), ferry), false);
});

test("archiveFormat names the compression of compressed bytes", () => {
  assert.equal(archiveFormat(new Uint8Array([0x1f, 0x8b, 8, 0]), ferry), "gzip");
  assert.equal(archiveFormat(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]), ferry), "zstd");
  assert.equal(archiveFormat(new TextEncoder().encode('{"schemaVersion":2}'), ferry), "");
});

test("a header whose checksum does not hold is refused", () => {
  const bytes = fixture("well-formed.tar").slice();
  bytes[512 + 1] ^= 1; // a byte of the second header's name
  assert.throws(() => untar(bytes), { message: "corrupt tar header: the checksum of the header at byte 512 does not hold" });
});

test("a symbolic link loop is refused", () => {
  assert.throws(() => untar(fixture("symlink-loop.tar")), (e) => e instanceof TarError && /: symbolic link loop$/.test(e.message));
});
