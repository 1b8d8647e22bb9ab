// The npm package under Node answers exactly as native ferry-core does, on
// every conformance case: the raw JSON text of `call` byte for byte, and the
// friendly functions' objects and thrown Errors value for value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";

import * as ferry from "ferry-wasm";
import { calls, compare, native } from "./harness.mjs";

const expected = native();

test("the node export condition loads the nodejs build", () => {
  const require = createRequire(import.meta.url);
  assert.match(require.resolve("ferry-wasm"), /\/node\/ferry_wasm\.js$/);
  for (const name of ["call", "digest", "detectMediaType", "inspect", "validate", "chooseInstance", "convertList", "planImage", "detectArchiveFormat", "tarFiles", "layerEntries", "parseReference"]) {
    assert.equal(typeof ferry[name], "function", name);
  }
});

test("every conformance case: wasm answers byte-identical to native", async () => {
  const t0 = performance.now();
  const { cases, answers, mismatches } = await compare(ferry, expected);
  const ms = Math.round(performance.now() - t0);
  console.log(`parity node: ${cases} cases × ${calls.length} calls = ${answers} answers, ${mismatches.length} mismatches (${ms} ms)`);
  assert.ok(cases >= 200, `only ${cases} cases`);
  assert.deepEqual(mismatches.slice(0, 20), []);
});

test("tarFiles reads an archive's members by ferry-core's rules", () => {
  const members = [{ name: "./a", typeflag: 48 }, { name: "b", typeflag: 50, linkname: "a" }];
  assert.deepEqual(ferry.tarFiles(members), [{ name: "a", member: 0 }, { name: "b", member: 0 }]);
  assert.throws(() => ferry.tarFiles([{ name: "../x", typeflag: 48 }]), (e) => e instanceof Error && /'\.\.' component/.test(e.message));
  assert.equal(ferry.detectArchiveFormat(new Uint8Array([0x1f, 0x8b, 8])), "gzip");
});

test("parseReference reads a docker reference as docker:// does", () => {
  const r = ferry.parseReference("busybox");
  assert.equal(r.string, "docker.io/library/busybox:latest");
  assert.equal(r.familiar, "busybox:latest");
  assert.equal(ferry.parseReference("busybox", "normalized").tag, null);
  assert.throws(() => ferry.parseReference("Busybox"), (e) => e instanceof Error && /must be lowercase/.test(e.message));
});

test("errors are Error objects with the core's message", () => {
  const notJson = new TextEncoder().encode("not json");
  const badSignatures = new TextEncoder().encode('{"schemaVersion":1,"signatures":[{"protected":"!"}]}');
  assert.throws(() => ferry.digest(badSignatures), (e) => e instanceof Error && e.message === "invalid base64url at /signatures/0/protected");
  assert.throws(() => ferry.convertList(notJson, "oci-index"), Error);
  assert.throws(() => ferry.chooseInstance(notJson, "linux"), Error);
});

test("digest hashes any bytes, as containers/image's manifest.Digest does", () => {
  for (const text of ["", "not json", "{} trailing", "\ufeff{}"]) {
    const bytes = new TextEncoder().encode(text);
    assert.equal(ferry.digest(bytes), "sha256:" + createHash("sha256").update(bytes).digest("hex"), JSON.stringify(text));
  }
});

test("a failed platform choice carries the explanation", () => {
  const index = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: "sha256:" + "a".repeat(64),
      size: 1,
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    }],
  }));
  assert.equal(ferry.chooseInstance(index, "linux/arm/v8").index, 0);
  assert.throws(() => ferry.chooseInstance(index, "linux/arm/v6"), (e) => {
    assert.match(e.message, /^no image in the list for platform linux\/arm\/v6/);
    assert.equal(e.explanation.length, 1);
    assert.equal(e.explanation[0].accepted, false);
    return true;
  });
});

test("options are optional and misspelt ones are refused", () => {
  const bytes = new TextEncoder().encode("{}");
  assert.equal(ferry.validate(bytes).valid, false);
  assert.equal(ferry.inspect.length, 2);
  assert.throws(() => ferry.planImage(bytes, { fromat: "x" }), /unknown member "options\.fromat"/);
});

test("layerEntries reads a layer's names by ferry-core's whiteout rules", () => {
  assert.deepEqual(ferry.layerEntries(["./etc/.wh.passwd", "../x"]), [
    { path: "etc/.wh.passwd", whiteout: "etc/passwd" },
    { error: "\"../x\": path \"../x\" has a '..' component" },
  ]);
});
