// Shared links: the view in location.hash, written and read back, and what
// a link asks of the page. Cases: ../fixtures/links.json.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { linkRequest, readLink, writeLink } from "../../src/link.js";
import { createState } from "../../src/state.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
const { cases } = JSON.parse(readFileSync(join(fixtures, "links.json"), "utf8"));
const viewOf = (c) => ({
  ...c.view,
  bytes: c.view.bytes === null ? new Uint8Array(Buffer.from(c.view.bytesBase64, "base64")) : new TextEncoder().encode(c.view.bytes),
});

for (const c of cases) {
  test(`writeLink: ${c.name}`, () => {
    assert.equal(writeLink(viewOf(c)), c.hash);
  });
}

test("readLink gives back what writeLink wrote; absent parameters are null", () => {
  const c = cases.find((x) => x.name.startsWith("a pasted manifest"));
  assert.deepEqual(readLink(c.hash), {
    m: "eyJzY2hlbWFWZXJzaW9uIjoyfQ", p: "linux/arm/v7", to: "docker-list", dp: "linux/amd64", e: "sha256:abc",
    r: null, d: null, dest: "oci-archive", sel: "instances", inst: "sha256:1,sha256:2", strip: "1",
    layer: null, file: null, fs: null, cmp: null, with: null, lq: null, fq: null, fm: null,
  });
  assert.deepEqual(Object.values(readLink("")).filter((v) => v !== null), []);
});

test("a link's manifest is shown when it differs from the shown bytes, exactly", () => {
  const state = createState();
  const request = linkRequest(readLink("#m=_-8A"), state);
  assert.equal(request.kind, "show");
  assert.deepEqual([...request.bytes], [0xff, 0xef, 0x00]);
});

test("a link's manifest already shown is only rendered again", () => {
  const state = createState();
  state.bytes = new Uint8Array([0xff, 0xef, 0x00]);
  assert.deepEqual(linkRequest(readLink("#m=_-8A"), state), { kind: "render" });
});

test("a link's manifest that is not base64 is refused with a message", () => {
  assert.deepEqual(linkRequest(readLink("#m=%25%25"), createState()),
    { kind: "bad-bytes", message: "The link's manifest is not valid base64url." });
});

test("a registry link on a page ferry serve does not host says what it needs", () => {
  const request = linkRequest(readLink("#r=docker%3A%2F%2Flocalhost%3A5000%2Fdemo%3Alatest"), createState());
  assert.deepEqual(request, {
    kind: "needs-proxy",
    message: "This link reads docker://localhost:5000/demo:latest from a registry, which needs the page served by ferry serve.",
  });
});

test("a registry link under ferry serve reads the reference, then follows its digest", () => {
  const state = createState();
  state.proxy.available = true;
  assert.deepEqual(linkRequest(readLink("#r=docker%3A%2F%2Fh%2Fr%3At&d=sha256%3A1"), state),
    { kind: "read", reference: "docker://h/r:t", digest: "sha256:1" });
});

test("a registry link to the open reference follows another digest, or renders when it is the one shown", () => {
  const state = createState();
  state.proxy.available = true;
  state.layout = { name: "docker://h/r:t", remote: true };
  state.trail = [{ label: "h/r:t", digest: null }, { label: "sha256:1", digest: "sha256:1" }];
  assert.deepEqual(linkRequest(readLink("#r=docker%3A%2F%2Fh%2Fr%3At&d=sha256%3A2"), state), { kind: "follow", digest: "sha256:2" });
  assert.deepEqual(linkRequest(readLink("#r=docker%3A%2F%2Fh%2Fr%3At&d=sha256%3A1"), state), { kind: "render" });
});

test("readLink reads the open layer and the file in it", () => {
  const link = readLink("#r=docker%3A%2F%2Fh%2Fr%3At&d=sha256%3A1&layer=sha256%3A2&file=etc%2Fos-release");
  assert.deepEqual([link.layer, link.file], ["sha256:2", "etc/os-release"]);
});

test("readLink reads the filesystem view and the two entries compared", () => {
  const link = readLink("#r=docker%3A%2F%2Fh%2Fr%3At&fs=1&cmp=sha256%3A1%2Csha256%3A2");
  assert.deepEqual([link.fs, link.cmp], ["1", "sha256:1,sha256:2"]);
});
