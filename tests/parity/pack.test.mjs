// `npm pack` of wasm/pkg gives a tarball that a fresh project installs and
// uses: ES import and require under Node, types included, the .wasm files
// shipped as files (never inlined as base64); and a plain ES-module page
// (an import map, no bundler) imports the installed package in headless
// Chromium and answers as native ferry-core does.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { after, test } from "node:test";

import { chromium } from "playwright-core";

import { caseBytes, native, root } from "./harness.mjs";

const pkg = join(root, "wasm", "pkg");
const work = mkdtempSync(join(tmpdir(), "ferry-pack-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** The fresh project the first test installs the tarball into. */
let app = null;

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

  app = join(work, "app");
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

/** Serves `dir` (the fresh project, node_modules included) on 127.0.0.1 as plain files. */
function serveFiles(dir, extra) {
  const types = { ".js": "text/javascript", ".json": "application/json", ".wasm": "application/wasm", ".html": "text/html" };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (extra[path]) {
      res.writeHead(200, { "Content-Type": "text/html" }).end(extra[path]);
      return;
    }
    const file = normalize(join(dir, path));
    if (!(file + sep).startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

test("the installed tarball imports in headless Chromium from a bundler-free page and answers as native", async () => {
  assert.ok(app, "the npm pack test did not install the tarball");
  const expected = native();
  const installed = join(app, "node_modules", "ferry-wasm");
  // The import map comes from the installed package's own "browser" export.
  const entry = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")).exports["."].browser;
  const importMap = { imports: { "ferry-wasm": "/node_modules/ferry-wasm/" + entry.replace(/^\.\//, "") } };
  const names = [...expected.lines.keys()];
  const cases = Object.fromEntries(names.map((n) => [n, Buffer.from(caseBytes(expected.header, n)).toString("base64")]));
  const page = `<!doctype html><meta charset="utf-8"><title>loading</title>
<script type="importmap">${JSON.stringify(importMap)}</script>
<script type="module">
  import { digest, inspect } from "ferry-wasm";
  const answer = (f) => { try { return { ok: f() }; } catch (e) { return { error: e.message }; } };
  const cases = ${JSON.stringify(cases)};
  window.results = Object.fromEntries(Object.entries(cases).map(([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return [name, { digest: answer(() => digest(bytes)), inspect: answer(() => inspect(bytes)) }];
  }));
  document.title = "ready";
</script>`;
  const server = await serveFiles(app, { "/": page });
  const browser = await chromium.launch({
    executablePath: process.env.FERRY_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const tab = await browser.newPage();
    const errors = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    const wasm = [];
    tab.on("request", (r) => { if (r.url().endsWith(".wasm")) wasm.push(new URL(r.url()).pathname); });
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    await tab.waitForFunction(() => document.title === "ready", null, { timeout: 20_000 }).catch((e) => {
      throw new Error(`the page did not import the installed package: ${errors.join("; ") || e.message}`);
    });
    assert.deepEqual(wasm, ["/node_modules/ferry-wasm/web/ferry_wasm_bg.wasm"], "the .wasm is fetched from the installed package, as a file");
    const results = await tab.evaluate(() => window.results);
    // operations.json's first call is digest, its third inspect, both without arguments.
    let compared = 0;
    for (const name of names) {
      const nativeAnswers = JSON.parse(expected.lines.get(name)).answers;
      assert.deepEqual(results[name].digest, nativeAnswers[0], `${name}: digest`);
      assert.deepEqual(results[name].inspect, nativeAnswers[2], `${name}: inspect`);
      compared++;
    }
    console.log(`installed package in Chromium: ${compared} cases, digest and inspect as native`);
    assert.ok(compared >= 200);
  } finally {
    await browser.close();
    server.close();
  }
});
