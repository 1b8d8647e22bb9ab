// ferry-core's C-ABI module (wasm/cabi, no wasm-bindgen) in wasmtime 48:
// every parity call on every conformance case, byte-identical to native.
// The runner is tests/parity/wasmtime (its own cargo workspace); the module
// is target/wasm32/ferry_core_cabi.wasm from scripts/build-wasm-pkg.sh.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { calls, here, native, root } from "./harness.mjs";

const module = process.env.FERRY_CABI_WASM ?? join(root, "target", "wasm32", "ferry_core_cabi.wasm");

test("every conformance case in wasmtime (C ABI): byte-identical to native", () => {
  assert.ok(existsSync(module), `${module} is missing: run scripts/build-wasm-pkg.sh`);
  const expected = native();
  const manifest = join(here, "wasmtime", "Cargo.toml");
  // A no-op when built; the first build compiles wasmtime (about 11 minutes
  // on 2 cores). FERRY_WASMTIME_TARGET_DIR keeps it outside the clone.
  const targetDir = process.env.FERRY_WASMTIME_TARGET_DIR ?? join(here, "wasmtime", "target");
  execFileSync("cargo", ["build", "-q", "--release", "--manifest-path", manifest, "--target-dir", targetDir], { stdio: "inherit" });
  const runner = join(targetDir, "release", "ferry-parity-wasmtime");
  const dir = mkdtempSync(join(tmpdir(), "ferry-wasmtime-"));
  try {
    const nativeFile = join(dir, "native.jsonl");
    writeFileSync(nativeFile, expected.text);
    const t0 = performance.now();
    const out = execFileSync(runner, [module, nativeFile, join(here, "operations.json")], {
      encoding: "utf8",
      maxBuffer: 1 << 28,
    });
    const ms = Math.round(performance.now() - t0);
    const lines = out.split("\n").filter((l) => l.length > 0).slice(1);
    const mismatches = [];
    for (const line of lines) {
      const name = JSON.parse(line).case;
      if (expected.lines.get(name) !== line) mismatches.push(name);
    }
    console.log(`parity wasmtime: ${lines.length} cases × ${calls.length} calls = ${lines.length * calls.length} answers, ${mismatches.length} mismatches (${ms} ms)`);
    assert.equal(lines.length, expected.lines.size);
    assert.deepEqual(mismatches.slice(0, 20), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
