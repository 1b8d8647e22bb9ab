// `npm pack` of wasm/pkg gives a tarball that a fresh project installs and
// uses: ES import and require under Node, types included, the .wasm files
// shipped as files (never inlined as base64).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { root } from "./harness.mjs";

const pkg = join(root, "wasm", "pkg");
const work = mkdtempSync(join(tmpdir(), "ferry-pack-"));
after(() => rmSync(work, { recursive: true, force: true }));

const npm = (args, cwd) => execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8" });

test("npm pack, install into a fresh project, import and require", () => {
  const [packed] = JSON.parse(npm(["pack", pkg, "--json", "--pack-destination", work], work));
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ["package.json", "ferry_wasm.d.ts", "web/index.js", "web/ferry_wasm.js", "web/ferry_wasm_bg.wasm",
    "node/ferry_wasm.js", "node/ferry_wasm_bg.wasm", "node/package.json", "workerd/index.js"]) {
    assert.ok(files.includes(f), `${f} missing from the tarball: ${files.join(", ")}`);
  }
  for (const f of files.filter((f) => f.endsWith(".js"))) {
    const text = readFileSync(join(pkg, f), "utf8");
    assert.doesNotMatch(text, /[A-Za-z0-9+/]{2000}/, `${f} inlines base64`);
  }
  console.log(`npm pack: ${packed.filename}, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${files.length} files`);

  const app = join(work, "app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  npm(["install", "--offline", join(work, packed.filename)], app);
  const manifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`;
  writeFileSync(join(app, "esm.js"), `
    import { digest, validate } from "ferry-wasm";
    const bytes = new TextEncoder().encode(${JSON.stringify(manifest)});
    console.log(digest(bytes), validate(bytes).valid);
  `);
  writeFileSync(join(app, "cjs.cjs"), `
    const { digest } = require("ferry-wasm");
    console.log(digest(new TextEncoder().encode(${JSON.stringify(manifest)})));
  `);
  const sha = "sha256:" + execFileSync("sha256sum", { input: manifest, encoding: "utf8" }).split(" ")[0];
  assert.equal(execFileSync("node", ["esm.js"], { cwd: app, encoding: "utf8" }).trim(), `${sha} true`);
  assert.equal(execFileSync("node", ["cjs.cjs"], { cwd: app, encoding: "utf8" }).trim(), sha);
});
