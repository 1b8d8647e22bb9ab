// What the copy plan preview asks ferry-core's planCopy and how it reads the
// answer: with a stand-in planCopy for the asking, and with the wasm
// package's own (wasm/pkg) over the demo oci-archive for the reading.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { readLayout } from "../../src/layout.js";
import { askPlan, blobOperations, planOptions, plannedManifests, planVerdict } from "../../src/plan.js";
import { untar } from "../../src/tar.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..", "..", "..", "wasm", "pkg", "node", "ferry_wasm.js");
assert.ok(existsSync(pkg), "wasm/pkg is missing: run bash scripts/build-wasm-pkg.sh");
const ferry = createRequire(import.meta.url)(pkg);
const { planCopy } = ferry;

const demo = readLayout(untar(new Uint8Array(readFileSync(join(here, "..", "fixtures", "tar", "demo-oci-archive.tar"))), ferry), "demo.tar");
const decode = (b) => new TextDecoder().decode(b);
const list = demo.blobs.get(JSON.parse(decode(demo.root)).manifests[0].digest);
const atHand = (digests) => Object.fromEntries(digests.filter((d) => demo.blobs.has(d)).map((d) => [d, decode(demo.blobs.get(d))]));
const options = (o) => planOptions({ isList: true, selection: "all", destination: "oci", mediaType: "", platform: null, digests: null, strip: false, ...o });

test("a single image is always planned whole, whatever the selection", () => {
  assert.deepEqual(planOptions({ isList: false, selection: "instances", destination: "dir", mediaType: "", platform: "linux/arm64", digests: ["sha256:1"], strip: true }),
    { destination: { kind: "dir" }, selection: "all" });
});

test("the platform goes with the system selection, the digests and strip with instances, a reported type always", () => {
  assert.deepEqual(options({ selection: "system", platform: "linux/arm64", mediaType: "application/vnd.oci.image.index.v1+json" }),
    { destination: { kind: "oci" }, selection: "system", mediaType: "application/vnd.oci.image.index.v1+json", platform: "linux/arm64" });
  assert.deepEqual(options({ selection: "instances", digests: ["sha256:1"], strip: true }),
    { destination: { kind: "oci" }, selection: "instances", digests: ["sha256:1"], stripUnselected: true });
});

test("askPlan gives planCopy the missing manifests at hand until none is missing or none more is at hand", () => {
  const calls = [];
  const fake = (bytes, opts, given) => {
    calls.push(given && Object.keys(given).sort());
    const missing = ["sha256:a", "sha256:b", "sha256:c"].filter((d) => !(given && d in given));
    return { missing };
  };
  const answer = askPlan(fake, new Uint8Array(), {}, (ds) => Object.fromEntries(ds.filter((d) => d !== "sha256:c").map((d) => [d, "{}"])));
  assert.deepEqual(answer.missing, ["sha256:c"]);
  assert.deepEqual(calls, [undefined, ["sha256:a", "sha256:b"]]);
});

test("with every instance at hand the plan has its summary; shared blobs are listed once", () => {
  const answer = askPlan(planCopy, list, options(), atHand);
  assert.deepEqual(answer.missing, []);
  assert.ok(answer.summary);
  const digests = answer.summary.blobs.map((b) => b.digest);
  assert.equal(new Set(digests).size, digests.length);
  assert.deepEqual(plannedManifests(answer, answer.top), answer.summary.manifests);
  assert.ok([...blobOperations(answer).values()].every((op) => op === "keep"), "an OCI layout takes the blobs as they are");
});

test("without the instances at hand the plan names them missing and rows come from what was planned", () => {
  const answer = askPlan(planCopy, list, options(), () => ({}));
  assert.equal(answer.missing.length, 4);
  assert.equal(answer.summary, null);
  assert.deepEqual(plannedManifests(answer, answer.top), []);
});

test("the verdict of a list copied as it is typed counts its entries", () => {
  const o = options();
  assert.equal(planVerdict(askPlan(planCopy, list, o, atHand).top, o),
    "Writes the list as it is typed (application/vnd.oci.image.index.v1+json): 4 entries copied, 0 kept without their images, 0 dropped.");
});

test("the verdict names the fallbacks a registry may need", () => {
  const o = options({ destination: "docker" });
  assert.match(planVerdict(askPlan(planCopy, list, o, atHand).top, o),
    /\(application\/vnd\.oci\.image\.index\.v1\+json, then application\/vnd\.docker\.distribution\.manifest\.list\.v2\+json\)/);
});

test("the verdict of one instance names the entry and the platform", () => {
  const o = options({ selection: "system", destination: "docker-archive", platform: "linux/arm64" });
  assert.equal(planVerdict(askPlan(planCopy, list, o, atHand).top, o), "Copies entry 1 (the one linux/arm64 runs), not the list.");
});

test("the verdicts of an image and of nested lists", () => {
  assert.equal(planVerdict({ kind: "image" }, {}), "Copies this one image.");
  assert.equal(planVerdict({ kind: "nested" }, {}), "The list names nested lists: their manifests are needed first.");
});
