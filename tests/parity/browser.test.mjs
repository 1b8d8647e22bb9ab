// ferry-wasm in headless Chromium (Debian's, driven by playwright-core):
// the package's browser entry, loaded through an import map from its
// package.json, fetches its .wasm as a separate file, and answers the parity
// calls on every conformance case exactly as native ferry-core does.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { calls, compareWith, here, native, root } from "./harness.mjs";

const CHROMIUM = process.env.FERRY_CHROMIUM ?? "/usr/bin/chromium";
const expected = native();
const pkg = join(root, "wasm", "pkg");
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".wasm": "application/wasm", ".html": "text/html" };
const wasmRequests = [];

/** Serves /pkg/ (the package), /parity/ (this folder), /cases/ (conformance) on 127.0.0.1. */
function serve() {
  const mounts = { "/pkg/": pkg, "/parity/": here, "/cases/": expected.header.conformanceDir };
  const entry = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).exports["."].browser;
  const page = readFileSync(join(here, "browser.html"), "utf8").replace(
    "IMPORT_MAP",
    JSON.stringify({ imports: { "ferry-wasm": "/pkg/" + entry.replace(/^\.\//, "") } }),
  );
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html" }).end(page);
      return;
    }
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(dir) || !existsSync(file)) break;
      if (file.endsWith(".wasm")) wasmRequests.push(path);
      res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

let server;
let browser;
let page;

before(async () => {
  server = await serve();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => document.title === "ready", null, { timeout: 20_000 }).catch((e) => {
    throw new Error(`the page did not load ferry-wasm: ${errors.join("; ") || e.message}`);
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("the browser entry fetches the .wasm as its own file", () => {
  assert.deepEqual(wasmRequests, ["/pkg/web/ferry_wasm_bg.wasm"]);
});

test("every conformance case in Chromium: byte-identical to native", async () => {
  const t0 = performance.now();
  const results = await page.evaluate((names) => window.ferryParity(names), [...expected.lines.keys()]);
  const { cases, answers, mismatches } = await compareWith(expected, (_bytes, name) => results[name]);
  const ms = Math.round(performance.now() - t0);
  console.log(`parity chromium (${browser.version()}): ${cases} cases × ${calls.length} calls = ${answers} answers, ${mismatches.length} mismatches (${ms} ms)`);
  assert.ok(cases >= 200);
  assert.deepEqual(mismatches.slice(0, 20), []);
});
