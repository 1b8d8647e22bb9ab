// Registry references as typed into the page, read by ferry-core's docker
// reference grammar: the wasm package's node build (wasm/pkg, built by
// scripts/build-wasm-pkg.sh, as the browser tests need it too).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { registryReference } from "../../src/reference.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const pkg = join(root, "wasm", "pkg", "node", "ferry_wasm.js");
assert.ok(existsSync(pkg), "wasm/pkg is missing: run bash scripts/build-wasm-pkg.sh");
const { parseReference } = createRequire(import.meta.url)(pkg);

test("a reference typed without docker:// is read as one, normalised, with its familiar form as the label", () => {
  assert.deepEqual(registryReference("  localhost:5000/demo:latest ", parseReference),
    { reference: "docker://localhost:5000/demo:latest", label: "localhost:5000/demo:latest" });
});

test("the docker:// prefix is optional", () => {
  assert.deepEqual(registryReference("docker://localhost:5000/demo@sha256:" + "a".repeat(64), parseReference),
    { reference: "docker://localhost:5000/demo@sha256:" + "a".repeat(64), label: "localhost:5000/demo@sha256:" + "a".repeat(64) });
});

test("a Docker Hub name is normalised as Docker does, tagged latest", () => {
  assert.deepEqual(registryReference("busybox", parseReference),
    { reference: "docker://docker.io/library/busybox:latest", label: "busybox:latest" });
});

test("an empty box asks for a reference", () => {
  assert.throws(() => registryReference(" docker:// ", parseReference),
    { message: "Enter a registry reference such as localhost:5000/repository:tag." });
});

test("what ferry-core refuses is refused with its message", () => {
  for (const [typed, message] of [
    ["Foo/bar", '"Foo/bar": invalid reference format: repository name must be lowercase'],
    ["a..b/c", '"a..b/c": invalid reference format'],
    ["docker://localhost:5000/a b", '"localhost:5000/a b": invalid reference format'],
  ]) {
    assert.throws(() => registryReference(typed, parseReference), { message }, typed);
  }
});

test("the grammar is the one given: its answer's string and familiar are used, its error passed on", () => {
  const seen = [];
  const parse = (text) => { seen.push(text); return { string: "S", familiar: "F" }; };
  assert.deepEqual(registryReference(" docker://x ", parse), { reference: "docker://S", label: "F" });
  assert.deepEqual(seen, ["x"]);
  assert.throws(() => registryReference("x", () => { throw new Error("core says no"); }), { message: "core says no" });
});
