// Native vs WebAssembly (Node) speed of digest and inspect on a large OCI
// index (ENTRIES entries, generated deterministically). Not a test: prints
// a table. Usage: node tests/parity/bench.mjs [ENTRIES] [ITERATIONS]
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";

import * as ferry from "ferry-wasm";
import { root } from "./harness.mjs";

const entries = Number(process.argv[2] ?? 2000);
const iterations = Number(process.argv[3] ?? 100);
const arches = [["amd64", ""], ["arm64", "v8"], ["arm", "v7"], ["arm", "v6"], ["ppc64le", ""], ["s390x", ""], ["386", ""], ["riscv64", ""]];
const index = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: Array.from({ length: entries }, (_, i) => {
    const [architecture, variant] = arches[i % arches.length];
    return {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: "sha256:" + createHash("sha256").update(String(i)).digest("hex"),
      size: 1000 + i,
      platform: variant ? { architecture, os: "linux", variant } : { architecture, os: "linux" },
      annotations: { "org.opencontainers.image.ref.name": `entry-${i}` },
    };
  }),
};
const text = JSON.stringify(index, null, 2);
const bytes = new TextEncoder().encode(text);
const dir = mkdtempSync(join(tmpdir(), "ferry-bench-"));
const file = join(dir, "index.json");
writeFileSync(file, bytes);
try {
  const out = execFileSync("cargo", ["run", "-q", "--release", "-p", "ferry-tests", "--bin", "parity", "--", "bench", file, String(iterations)], { cwd: root, encoding: "utf8" });
  const native = Object.fromEntries(out.trim().split("\n").map((l) => JSON.parse(l)).map((r) => [r.op, r.nsPerCall]));
  console.log(`index: ${entries} entries, ${bytes.length} bytes; ${iterations} iterations each`);
  console.log("op        native µs   wasm call µs   wasm object µs   wasm/native");
  for (const op of ["digest", "inspect"]) {
    const time = (f) => {
      f();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) f();
      return Number(process.hrtime.bigint() - t0) / iterations;
    };
    const raw = time(() => ferry.call(op, bytes, ""));
    const object = time(() => ferry[op](bytes));
    const fmt = (ns) => (ns / 1000).toFixed(1).padStart(12);
    console.log(`${op.padEnd(8)}${fmt(native[op])}   ${fmt(raw)}   ${fmt(object)}     ${(raw / native[op]).toFixed(2).padStart(8)}×`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
