// ferry-wasm in workerd, Cloudflare's runtime: the parity calls on every
// conformance case, and the edge-gate example of wasm/examples answering
// manifest PUTs as native validation says it should.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { calls, caseBytes, compareWith, native } from "./harness.mjs";
import { startWorkerd } from "./workerd.mjs";

const expected = native();
const indexOf = (op, args = "") => calls.findIndex((c) => c.op === op && c.args === args);
let workerd;

before(async () => {
  workerd = await startWorkerd();
});
after(async () => {
  await workerd?.stop();
});

test("every conformance case in workerd: byte-identical to native", async () => {
  const t0 = performance.now();
  const { cases, answers, mismatches } = await compareWith(expected, async (bytes) => {
    const response = await fetch(workerd.parity, { method: "POST", body: bytes });
    assert.equal(response.status, 200);
    return response.json();
  });
  const ms = Math.round(performance.now() - t0);
  console.log(`parity workerd: ${cases} cases × ${calls.length} calls = ${answers} answers, ${mismatches.length} mismatches (${ms} ms)`);
  assert.ok(cases >= 200);
  assert.deepEqual(mismatches.slice(0, 20), []);
});

test("edge gate: 200 with the native digest for valid manifests, 400 with the native diagnostics or error otherwise", async () => {
  const validate = indexOf("validate");
  const inspect = indexOf("inspect");
  let accepted = 0;
  let refused = 0;
  for (const [name, line] of expected.lines) {
    const answers = JSON.parse(line).answers;
    const report = answers[validate].ok;
    const response = await fetch(`${workerd.gate}/v2/conformance/manifests/latest`, {
      method: "PUT",
      body: caseBytes(expected.header, name),
    });
    const body = await response.json();
    const summary = answers[inspect].ok;
    if (report.valid && summary) {
      assert.equal(response.status, 200, `${name}: ${JSON.stringify(body)}`);
      assert.deepEqual(body, { digest: summary.digest, mediaType: summary.mediaType, size: summary.size }, name);
      assert.equal(response.headers.get("Docker-Content-Digest"), summary.digest);
      accepted++;
    } else {
      assert.equal(response.status, 400, name);
      assert.equal(body.errors[0].code, "MANIFEST_INVALID");
      assert.deepEqual(body.errors[0].detail.diagnostics, report.diagnostics, name);
      // Valid but not summarisable (no computable digest): the core's message.
      if (report.valid) assert.equal(body.errors[0].message, answers[inspect].error, name);
      refused++;
    }
  }
  console.log(`edge gate: ${accepted} accepted, ${refused} refused`);
  assert.ok(accepted > 0 && refused > 0);
});

test("edge gate: an ambiguous manifest (duplicate key) is refused with its pointer", async () => {
  const body = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"manifests":[]}`;
  const response = await fetch(`${workerd.gate}/v2/app/manifests/v1`, { method: "PUT", body });
  assert.equal(response.status, 400);
  const { errors } = await response.json();
  assert.ok(errors[0].detail.diagnostics.some((d) => d.pointer === "/manifests" && d.severity === "error"), JSON.stringify(errors));
});

test("edge gate: a Content-Type that contradicts the body is refused", async () => {
  const body = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`;
  const put = (type) => fetch(`${workerd.gate}/v2/app/manifests/v1`, { method: "PUT", body, headers: { "Content-Type": type } });
  assert.equal((await put("application/vnd.docker.distribution.manifest.list.v2+json")).status, 400);
  assert.equal((await put("application/vnd.oci.image.index.v1+json")).status, 200);
});

test("edge gate: only manifest PUTs are gated", async () => {
  assert.equal((await fetch(`${workerd.gate}/v2/app/manifests/v1`)).status, 405);
  assert.equal((await fetch(`${workerd.gate}/v2/app/blobs/uploads/`, { method: "POST" })).status, 404);
});
