// The ferry serve client over a stand-in fetch: what it asks and how it
// reads the answers.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createProxy } from "../../src/proxy.js";

/** A fetch that answers from `answer(url)` and records the URLs it was asked for. */
function fakeFetch(answer) {
  const asked = [];
  const f = async (url, init) => { asked.push({ url, init }); return answer(url); };
  f.asked = asked;
  return f;
}

test("ferry serve is recognised by its api/info answer", async () => {
  const f = fakeFetch(() => Response.json({ server: "ferry serve", version: "0.1.0" }));
  assert.deepEqual(await createProxy(f).detect(), { available: true, why: "it does not describe itself as ferry serve" });
  assert.deepEqual(f.asked, [{ url: "api/info", init: { cache: "no-store" } }]);
});

test("a static host's 404 to api/info means no proxy, saying so", async () => {
  const f = fakeFetch(() => new Response("not found", { status: 404 }));
  assert.deepEqual(await createProxy(f).detect(), { available: false, why: "it answered 404 to api/info" });
});

test("another server's api/info, or one that is not JSON, means no proxy", async () => {
  for (const body of ['{"server":"nginx"}', "<html>"]) {
    const f = fakeFetch(() => new Response(body, { status: 200 }));
    assert.deepEqual(await createProxy(f).detect(), { available: false, why: "it does not describe itself as ferry serve" });
  }
});

test("a network failure means no proxy, with its message", async () => {
  const f = fakeFetch(() => { throw new TypeError("Failed to fetch"); });
  assert.deepEqual(await createProxy(f).detect(), { available: false, why: "Failed to fetch" });
});

test("a manifest is asked for by reference and digest, and comes with the media type ferry serve read", async () => {
  const f = fakeFetch(() => new Response("{}", { headers: { "X-Ferry-Media-Type": "application/vnd.oci.image.index.v1+json" } }));
  const got = await createProxy(f).manifest("docker://h:5000/r:t", "sha256:1");
  assert.deepEqual([...got.bytes], [0x7b, 0x7d]);
  assert.equal(got.mediaType, "application/vnd.oci.image.index.v1+json");
  assert.equal(f.asked[0].url, "api/manifest?ref=docker%3A%2F%2Fh%3A5000%2Fr%3At&digest=sha256%3A1");
});

test("a blob is asked for at api/blob; no media type header reads as none", async () => {
  const f = fakeFetch(() => new Response("config"));
  const got = await createProxy(f).blob("docker://h/r:t", "sha256:2");
  assert.equal(got.mediaType, "");
  assert.equal(f.asked[0].url, "api/blob?ref=docker%3A%2F%2Fh%2Fr%3At&digest=sha256%3A2");
});

test("a refusal is an error naming the reference, the status and ferry serve's explanation", async () => {
  const f = fakeFetch(() => new Response("manifest unknown\n", { status: 502 }));
  await assert.rejects(createProxy(f).manifest("docker://h/r:t"),
    { message: "Reading docker://h/r:t through ferry serve failed (502): manifest unknown" });
  const g = fakeFetch(() => new Response("", { status: 404, statusText: "Not Found" }));
  await assert.rejects(createProxy(g).blob("docker://h/r:t", "sha256:3"),
    { message: "Reading docker://h/r:t (sha256:3) through ferry serve failed (404): Not Found" });
});

test("a manifest's referrers are asked for at api/referrers, by reference and digest, and read as ferry's JSON listing", async () => {
  const listing = [{ subject: "sha256:1", digest: "sha256:2", mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: "application/spdx+json", size: 3, depth: 1 }];
  const f = fakeFetch(() => Response.json(listing));
  assert.deepEqual(await createProxy(f).referrers("docker://h/r:t", "sha256:1"), listing);
  assert.equal(f.asked[0].url, "api/referrers?ref=docker%3A%2F%2Fh%2Fr%3At&digest=sha256%3A1");
});

test("the policy's verdict is asked for at api/verdict by reference; a server that judges nothing says why", async () => {
  const verdict = { allowed: false, images: [{ image: "docker://h/r:t", allowed: false, scope: "", reason: "Running image docker://h/r:t is rejected by policy." }] };
  const f = fakeFetch(() => Response.json(verdict));
  assert.deepEqual(await createProxy(f).verdict("docker://h/r:t"), verdict);
  assert.equal(f.asked[0].url, "api/verdict?ref=docker%3A%2F%2Fh%2Fr%3At");
  const none = fakeFetch(() => new Response("this ferry serve judges no image (it was started with --insecure-policy)", { status: 409 }));
  await assert.rejects(createProxy(none).verdict("docker://h/r:t"), /\(409\): this ferry serve judges no image/);
});
