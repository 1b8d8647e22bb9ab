// The inspector served by `ferry serve` in front of a real registry
// (Debian's docker-registry on a free loopback port, plain HTTP), driven in
// headless Chromium: read a registry reference, see the index and its
// platform table, choose a platform, follow a digest through the proxy, see
// the config history beside the layers, preview a conversion and a copy
// plan, share the view, all from the keyboard. Every answer is compared with
// native ferry's (`ferry inspect`, `ferry manifest choose|convert`,
// `ferry copy --dry-run --json`).
//
// FERRY_BIN overrides the ferry binary (default target/debug/ferry, which
// `cargo test --workspace` and `cargo build -p ferry` build);
// FERRY_DOCKER_REGISTRY the registry program; FERRY_CHROMIUM the browser.
// Screenshots go to target/web-artifacts/ (gitignored).
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { createGzip, gunzipSync, gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { tarHeader } from "./tar-header.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const web = dirname(here);
const root = dirname(web);
const FERRY = process.env.FERRY_BIN ?? join(root, "target", "debug", "ferry");
const REGISTRY = process.env.FERRY_DOCKER_REGISTRY ?? "/usr/bin/docker-registry";
const CHROMIUM = process.env.FERRY_CHROMIUM ?? "/usr/bin/chromium";
const artifacts = join(root, "target", "web-artifacts");
mkdirSync(artifacts, { recursive: true });

const sha256 = (b) => "sha256:" + createHash("sha256").update(b).digest("hex");
const children = [];
let work, registry, ref, base, browser;
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Starts a child that `after` ends; its output is kept for failure messages. */
function start(program, args, options = {}) {
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  child.output = "";
  child.stdout.on("data", (d) => { child.output += d; });
  child.stderr.on("data", (d) => { child.output += d; });
  children.push(child);
  return child;
}

async function waitFor(what, check, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      throw new Error(`${typeof what === "function" ? what() : what} did not come up within ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Native ferry, for the answers the page must match. */
// HOME: the repository's test home, whose signature policy accepts anything.
const home = join(root, "tests/fixtures/home");
const ferry = (args, input) => execFileSync(FERRY, args, { cwd: root, input, maxBuffer: 64 << 20, stdio: "pipe", env: { ...process.env, HOME: home } });
const nativeRaw = (reference) => ferry(["inspect", "--raw", "--tls-verify=false", reference]);

before(async () => {
  assert.ok(existsSync(FERRY), `${FERRY} is missing: run cargo build -p ferry (or set FERRY_BIN)`);
  assert.ok(existsSync(join(root, "wasm", "pkg", "web", "index.js")), "wasm/pkg is missing: run bash scripts/build-wasm-pkg.sh");
  work = mkdtempSync(join(tmpdir(), "ferry-web-serve-"));
  mkdirSync(join(work, "storage"));
  // The port is free when chosen, not necessarily when the registry binds
  // it: a registry that exits (address in use) is started again elsewhere.
  for (let attempt = 1; ; attempt++) {
    registry = `127.0.0.1:${await freePort()}`;
    writeFileSync(join(work, "config.yml"), [
      "version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:",
      `    rootdirectory: ${JSON.stringify(join(work, "storage"))}`, "  delete:", "    enabled: true",
      "http:", `  addr: ${registry}`, "",
    ].join("\n"));
    const reg = start(REGISTRY, ["serve", join(work, "config.yml")]);
    const up = await waitFor(() => `docker-registry on ${registry} (${reg.output})`, async () =>
      reg.exitCode !== null ? "exited" : (await fetch(`http://${registry}/v2/`)).status === 200);
    if (up === true) break;
    assert.ok(attempt < 3, `docker-registry exited three times; last output: ${reg.output}`);
  }

  ref = `docker://${registry}/demo:latest`;
  ferry(["copy", "--all", "--progress", "none", "--dest-tls-verify=false", "demo:", ref]);
  await pushLayerImages();

  const serve = start(FERRY, ["serve", "--listen", "127.0.0.1:0", "--tls-verify=false"], { cwd: root });
  base = await waitFor("ferry serve", () => /http:\/\/(127\.0\.0\.1:\d+)\//.exec(serve.output)?.[0].replace(/\/$/, ""));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

/** Pushes a blob to the test registry (POST, then PUT with its digest): its descriptor fields. */
async function pushBlob(repo, bytes) {
  const digest = sha256(bytes);
  const post = await fetch(`http://${registry}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  assert.equal(post.status, 202, await post.text());
  const url = new URL(post.headers.get("location"), `http://${registry}`);
  url.searchParams.set("digest", digest);
  const put = await fetch(url, { method: "PUT", body: bytes, headers: { "Content-Type": "application/octet-stream" } });
  assert.equal(put.status, 201, await put.text());
  return { digest, size: bytes.length };
}

/** Pushes a manifest (an object, written as indented JSON) under `tag`: its descriptor. */
async function pushManifest(repo, tag, mediaType, manifest) {
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const put = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { method: "PUT", body: bytes, headers: { "Content-Type": mediaType } });
  assert.equal(put.status, 201, await put.text());
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const TAR_LAYER = "application/vnd.oci.image.layer.v1.tar";

/** An image of `layers` (`[bytes, mediaType]`) for `architecture`, pushed to `repo` under `tag`. */
async function pushImage(repo, tag, architecture, layers) {
  const descs = [];
  for (const [bytes, mediaType] of layers) descs.push({ mediaType, ...(await pushBlob(repo, bytes)) });
  const config = Buffer.from(JSON.stringify({ architecture, os: "linux", rootfs: { type: "layers", diff_ids: descs.map((d) => d.digest) } }));
  return pushManifest(repo, tag, OCI_MANIFEST, {
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...(await pushBlob(repo, config)) },
    layers: descs,
  });
}

const layerFixture = (name) => readFileSync(join(here, "fixtures", "layer", name));
let files, hostile, hostileLayers, bigLayer, zstdImage;

/**
 * The images the layer views read: `files` (an index of amd64: the fixture
 * layer; arm64: it and a second layer), `zstd` (the fixture layer
 * zstd-compressed), `hostile` (a path escape, a
 * truncated gzip stream, a decompression bomb, a member longer than the
 * layer) and `big` (one layer of 10,000 files).
 */
async function pushLayerImages() {
  const base = layerFixture("layer.tar.gz");
  const second = gzipSync(Buffer.concat([tarHeader("etc/hostname", 6), Buffer.from("other\n"), Buffer.alloc(506),
    tarHeader("usr/", 0, "5"), tarHeader("usr/local", 0, "5"), Buffer.alloc(1024)]));
  const amd = await pushImage("files", "amd64", "amd64", [[base, GZIP_LAYER]]);
  const arm = await pushImage("files", "arm64", "arm64", [[base, GZIP_LAYER], [second, GZIP_LAYER]]);
  await pushManifest("files", "latest", "application/vnd.oci.image.index.v1+json", {
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ ...amd, platform: { os: "linux", architecture: "amd64" } }, { ...arm, platform: { os: "linux", architecture: "arm64" } }],
  });
  files = { ref: `docker://${registry}/files:latest`, amd, arm };
  const zstd = await pushImage("zstd", "latest", "amd64", [[layerFixture("layer.tar.zst"), "application/vnd.oci.image.layer.v1.tar+zstd"]]);
  zstdImage = { ref: `docker://${registry}/zstd@${zstd.digest}`, layer: sha256(layerFixture("layer.tar.zst")) };

  // 300 MiB of zeros: about 300 KiB gzip-compressed, over the page's 256 MiB floor.
  const zeros = 300 * 1024 * 1024;
  const bomb = await buffer(Readable.from((function* () {
    yield tarHeader("zeros", zeros);
    const mib = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 300; i++) yield mib;
    yield Buffer.alloc(1024);
  })()).pipe(createGzip()));
  hostileLayers = {
    escape: [layerFixture("escape.tar.gz"), GZIP_LAYER],
    truncated: [layerFixture("truncated.tar.gz"), GZIP_LAYER],
    bomb: [bomb, GZIP_LAYER],
    endless: [layerFixture("endless.tar"), TAR_LAYER],
  };
  const h = await pushImage("hostile", "latest", "amd64", Object.values(hostileLayers));
  hostile = { ref: `docker://${registry}/hostile:latest`, digest: h.digest };

  const many = [];
  for (let i = 0; i < 10_000; i++) many.push(tarHeader(`data/d${Math.floor(i / 100)}/f${i}`, 0));
  many.push(Buffer.alloc(1024));
  const big = gzipSync(Buffer.concat(many));
  await pushImage("big", "latest", "amd64", [[big, GZIP_LAYER]]);
  bigLayer = { ref: `docker://${registry}/big:latest`, digest: sha256(big) };
  assert.equal(gunzipSync(base).length, readFileSync(join(here, "fixtures", "layer", "layer.tar")).length);
}

after(async () => {
  await browser?.close();
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)));
  if (work) rmSync(work, { recursive: true, force: true });
});

async function openPage(hash = "", viewport = { width: 1200, height: 900 }, at = base) {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${at}/${hash}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready, null, { timeout: 20_000 });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.ready), "1", await page.textContent("#status"));
  return page;
}

/** Waits until the summary shows `input` (a reference or a digest) and returns its digest. */
async function shownDigest(page, input) {
  const h = await page.waitForFunction((input) => document.getElementById("summary").dataset.input === input
    && document.getElementById("digest")?.textContent, input, { timeout: 10_000 });
  return h.jsonValue();
}

test("the registry input is enabled under ferry serve, and reads a reference typed and entered from the keyboard", async () => {
  const page = await openPage();
  assert.equal(await page.isDisabled("#registry-ref"), false);
  assert.match(await page.textContent("#registry-note"), /ferry serve/);
  // Keyboard: Tab from the manifest box reaches the reference box.
  await page.focus("#manifest");
  const seen = [];
  for (let i = 0; i < 10 && !seen.includes("registry-ref"); i++) {
    await page.keyboard.press("Tab");
    seen.push(await page.evaluate(() => document.activeElement?.id));
  }
  assert.ok(seen.includes("registry-ref"), seen.join(","));
  // Without the docker:// prefix, as people type it.
  await page.keyboard.type(`${registry}/demo:latest`);
  await page.keyboard.press("Enter");
  const raw = nativeRaw(ref);
  assert.equal(await shownDigest(page, ref), sha256(raw));
  assert.equal(await page.inputValue("#manifest"), raw.toString("utf8"));
  assert.match(await page.textContent("#layout-info"), /Registry image docker:\/\/127\.0\.0\.1:\d+\/demo:latest, read through ferry serve/);

  // The index: four platforms, as native inspect lists them.
  const index = JSON.parse(raw);
  const rows = await page.locator("#platform-table tbody tr").allTextContents();
  assert.equal(rows.length, index.manifests.length);
  index.manifests.forEach((m, i) => assert.ok(rows[i].includes(m.digest), `row ${i}: ${rows[i]}`));
  await page.screenshot({ path: join(artifacts, "serve-index.png"), fullPage: true });

  // An unreadable reference is an error that names it, not a blank page.
  await page.fill("#registry-ref", `${registry}/no-such-repository:latest`);
  await page.click("#registry-read");
  await page.waitForFunction(() => document.getElementById("status").className === "bad");
  assert.match(await page.textContent("#status"), /no-such-repository/);
  await page.close();
});

test("choosing a platform, following its digest through the proxy, the config history beside the layers, and back", async () => {
  const page = await openPage();
  await page.fill("#registry-ref", ref);
  await page.press("#registry-ref", "Enter");
  const listFile = join(work, "index.json");
  writeFileSync(listFile, nativeRaw(ref));
  await shownDigest(page, ref);

  await page.fill("#platform", "linux/arm/v7");
  const chosen = ferry(["manifest", "choose", listFile, "--platform", "linux/arm/v7"]).toString().trim();
  assert.equal(await page.textContent("#chosen-digest"), chosen);

  // Follow it with the keyboard: focus the entry's open button, press Enter.
  await page.focus(`button[aria-label="Open ${chosen}"]`);
  await page.keyboard.press("Enter");
  const instanceRef = `docker://${registry}/demo@${chosen}`;
  assert.equal(await shownDigest(page, chosen), chosen);
  assert.equal(sha256(nativeRaw(instanceRef)), chosen);
  const manifest = JSON.parse(nativeRaw(instanceRef));
  assert.equal(await page.locator("#image-table tbody tr.layer").count(), manifest.layers.length);

  // The config comes through /api/blob; its history is lined up with the layers.
  const config = JSON.parse(ferry(["inspect", "--config", "--tls-verify=false", instanceRef]));
  await page.waitForSelector("#history-table tbody tr");
  const history = await page.locator("#history-table tbody tr").allTextContents();
  assert.equal(history.length, config.history.length);
  config.history.forEach((entry, i) => {
    assert.ok(history[i].includes(entry.created_by), history[i]);
    assert.ok(history[i].includes(manifest.layers[i].digest), `step ${i} beside layer ${i}: ${history[i]}`);
  });
  assert.equal(await page.locator("#history-diagnostics li").count(), 0, "counts agree: no diagnostic");
  await page.click(`button[aria-label="Show config ${manifest.config.digest}"]`);
  assert.deepEqual(JSON.parse(await page.textContent("#config-view")), config);
  await page.screenshot({ path: join(artifacts, "serve-instance.png"), fullPage: true });

  // The address holds the view: reference and followed digest.
  const url = page.url();
  assert.match(url, /[#&]r=docker%3A%2F%2F127\.0\.0\.1%3A\d+%2Fdemo%3Alatest/);
  assert.ok(url.includes(`d=${encodeURIComponent(chosen)}`), url);
  const again = await openPage(url.slice(base.length + 1));
  assert.equal(await shownDigest(again, chosen), chosen);
  assert.deepEqual(await again.locator("#trail li").allTextContents(), [`${registry}/demo:latest`, chosen.slice(0, 19)]);
  await again.close();

  // Back to the index through the trail.
  await page.click("#trail button.back");
  assert.equal(await shownDigest(page, ref), sha256(readFileSync(listFile)));
  await page.close();
});

test("the conversion preview of the registry's index matches ferry manifest convert", async () => {
  const page = await openPage();
  await page.fill("#registry-ref", ref);
  await page.click("#registry-read");
  await shownDigest(page, ref);
  const listFile = join(work, "index.json");
  writeFileSync(listFile, nativeRaw(ref));
  assert.equal(await page.inputValue("#convert-to"), "docker-list");
  const native = ferry(["manifest", "convert", listFile, "--to", "docker-list"]);
  const shown = await page.textContent("#converted");
  assert.equal(shown, native.toString("utf8").replace(/\n$/, ""));
  assert.equal(await page.textContent("#converted-digest"), sha256(shown));
  await page.screenshot({ path: join(artifacts, "serve-convert.png"), fullPage: true });
  await page.close();
});

/** The plan `ferry copy --dry-run --json` makes for the same copy. */
function nativePlan(kind, selection) {
  const dest = join(work, `dest-${kind}-${Math.random().toString(36).slice(2)}`);
  // A registry destination: a repository of the same registry that has nothing yet.
  const target = { dir: `dir:${dest}`, oci: `oci:${dest}`, "oci-archive": `oci-archive:${dest}.tar`,
    "docker-archive": `docker-archive:${dest}.tar`, docker: `docker://${registry}/${dest.split("-").pop()}:latest` }[kind];
  const sel = selection === "all" ? ["--all"] : ["--multi-arch", "system", "--override-os", "linux", "--override-arch", selection.split("/")[1]];
  const out = ferry(["copy", "--dry-run", "--json", "--progress", "none", "--src-tls-verify=false", "--dest-tls-verify=false", ...sel, ref, target]);
  return JSON.parse(out).plan;
}

test("the copy plan preview answers as ferry copy --dry-run for every destination kind and selection", async () => {
  const page = await openPage();
  await page.fill("#registry-ref", ref);
  await page.click("#registry-read");
  await shownDigest(page, ref);
  await page.fill("#platform", "linux/s390x");
  let compared = 0;
  for (const kind of ["dir", "oci", "oci-archive", "docker-archive", "docker"]) {
    await page.selectOption("#plan-dest", kind);
    for (const selection of ["linux/s390x", "all"]) {
      await page.check(`input[name=plan-sel][value=${selection === "all" ? "all" : "system"}]`);
      if (kind === "docker-archive" && selection === "all") {
        // A docker-archive holds one image: the page shows ferry's refusal.
        await page.waitForSelector("#plan-error");
        assert.match(await page.textContent("#plan-error"), /cannot store a manifest list/);
        assert.throws(() => nativePlan(kind, selection), /cannot store a manifest list/);
        continue;
      }
      // Instance manifests arrive through the proxy; the summary follows.
      const handle = await page.waitForFunction(() => document.getElementById("plan-json").textContent || null, null, { timeout: 10_000 });
      assert.deepEqual(JSON.parse(await handle.jsonValue()), nativePlan(kind, selection), `${kind}, ${selection}`);
      compared++;
    }
  }
  assert.equal(compared, 9);
  // The registry kind also counts the requests the copy would make.
  assert.match(await page.textContent("#plan-summary"), /Registry requests \(at least\)\d+/);
  await page.check("input[name=plan-sel][value=all]");
  await page.selectOption("#plan-dest", "oci");
  await page.waitForFunction(() => document.getElementById("plan-json").textContent);
  assert.ok((await page.locator("#plan-blobs tbody tr").count()) > 0);
  await page.screenshot({ path: join(artifacts, "serve-plan.png"), fullPage: true });

  // Chosen instances, by keyboard: the list and two entries, the rest dropped.
  await page.focus("input[name=plan-sel][value=instances]");
  await page.keyboard.press("Space");
  const boxes = page.locator("#plan-instances input[type=checkbox]");
  assert.equal(await boxes.count(), 4);
  await boxes.nth(0).focus();
  await page.keyboard.press("Space");
  await boxes.nth(2).check();
  await page.check("#plan-strip");
  await page.waitForFunction(() => document.getElementById("plan-json").textContent.includes("\"drop\""));
  const plan = JSON.parse(await page.textContent("#plan-json"));
  assert.deepEqual(plan.listEntries, ["copy", "drop", "copy", "drop"]);
  const listFile = join(work, "index.json");
  writeFileSync(listFile, nativeRaw(ref));
  const entries = JSON.parse(readFileSync(listFile)).manifests;
  assert.deepEqual(plan.manifests.filter((m) => m.role === "instance").map((m) => m.sourceDigest), [entries[0].digest, entries[2].digest]);
  // The selection is in the address too.
  const url = page.url();
  assert.match(url, /sel=instances/);
  assert.ok(url.includes(encodeURIComponent(`${entries[0].digest},${entries[2].digest}`)), url);
  const again = await openPage(url.slice(base.length + 1));
  await again.waitForFunction(() => document.getElementById("plan-json").textContent.includes("\"drop\""));
  assert.deepEqual(JSON.parse(await again.textContent("#plan-json")).listEntries, ["copy", "drop", "copy", "drop"]);
  await again.close();
  await page.close();
});

test("narrow screen under ferry serve: the registry row and plan fit without sideways scrolling", async () => {
  const page = await openPage("", { width: 360, height: 780 });
  await page.fill("#registry-ref", ref);
  await page.click("#registry-read");
  await shownDigest(page, ref);
  await page.waitForFunction(() => document.getElementById("plan-json").textContent || document.getElementById("plan-error"));
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  const widest = await page.evaluate(() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > 361).map((e) => e.id || e.tagName).slice(0, 5).join(", "));
  assert.ok(scrollWidth <= 361, `no horizontal page scroll (${scrollWidth}px; too wide: ${widest})`);
  await page.screenshot({ path: join(artifacts, "serve-narrow.png"), fullPage: true });
  await page.close();
});

test("a reference ferry-core's grammar refuses is refused in the page with core's message, before anything reaches ferry serve", async () => {
  const page = await openPage();
  const proxied = [];
  page.on("request", (r) => { if (r.url().includes("/api/")) proxied.push(r.url()); });
  for (const [typed, message] of [
    ["Foo/bar", '"Foo/bar": invalid reference format: repository name must be lowercase'],
    ["docker://a..b/c", '"a..b/c": invalid reference format'],
  ]) {
    await page.fill("#registry-ref", typed);
    await page.press("#registry-ref", "Enter");
    await page.waitForFunction((m) => document.getElementById("status").textContent === m, message, { timeout: 10_000 });
    assert.equal(await page.getAttribute("#status", "class"), "bad");
  }
  assert.deepEqual(proxied, []);
  await page.close();
});

/** Reads `reference` in a fresh page and waits until it is shown. */
async function readIn(reference, hash = "", at = base) {
  const page = await openPage(hash, undefined, at);
  await page.fill("#registry-ref", reference);
  await page.press("#registry-ref", "Enter");
  await shownDigest(page, reference);
  return page;
}

/** Waits until the open layer is listed (or refused); its state. */
async function layerDone(page, digest) {
  const h = await page.waitForFunction((d) => {
    const s = document.getElementById("layer");
    return s.dataset.digest === d && s.dataset.state !== "reading" && s.dataset.state;
  }, digest, { timeout: 30_000 });
  return h.jsonValue();
}

test("a layer's digest in the manifest opens its file tree: names, owners, a symlink and a whiteout as a deletion", async () => {
  const page = await readIn(`docker://${registry}/files@${files.amd.digest}`);
  const manifest = JSON.parse(await page.inputValue("#manifest"));
  const layer = manifest.layers[0].digest;
  // The manifest's exact text, its digests links, its media types explained.
  assert.equal(await page.textContent("#document-json"), await page.inputValue("#manifest"));
  assert.match(await page.getAttribute(`#document-json .media-type >> nth=0`, "title"), /OCI image manifest/);
  await page.click(`#document-json a[data-digest="${layer}"]`);
  assert.equal(await layerDone(page, layer), "done");
  const paths = await page.locator("#layer-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.path));
  assert.deepEqual(paths, ["bin", "bin/ash", "bin/busybox", "bin/sh", "etc", "etc/hostname", "etc/passwd", "var", "var/log"]);
  const row = (path) => page.textContent(`#layer-table tr[data-path="${path}"]`);
  assert.match(await row("bin/sh"), /lrwxrwxrwx.*sh → busybox/);
  assert.match(await row("bin/ash"), /ash ⇒ bin\/busybox \(hard link\)/);
  assert.match(await row("etc/hostname"), /-rw-r--r--ferry:ferry \(1000:1000\)11 B/);
  assert.equal(await page.getAttribute(`#layer-table tr[data-path="etc/passwd"]`, "class"), "deleted");
  assert.match(await row("etc/passwd"), /deleted by \.\/etc\/\.wh\.passwd \(whiteout\)/);
  assert.match(await row("var"), /opaque: hides what the layers below have here/);
  await page.screenshot({ path: join(artifacts, "serve-layer.png"), fullPage: true });

  // A file opens as text, and as hex; the link keeps the layer and the file.
  await page.click(`button[aria-label="Open etc/hostname"]`);
  await page.waitForFunction(() => document.getElementById("file-content").textContent === "ferry-test\n");
  // The README's picture (web/docs/layer.png is a copy).
  await page.locator("#layer").screenshot({ path: join(artifacts, "layer.png") });
  await page.click("#file-hex");
  assert.match(await page.textContent("#file-content"), /^00000000  66 65 72 72 79 2d 74 65 73 74 0a\s+ferry-test\.$/);
  await page.click(`button[aria-label="Open bin/busybox"]`);
  await page.waitForFunction(() => document.getElementById("file-content").dataset.mode === "hex"
    && document.getElementById("file-content").textContent.includes("7f 45 4c 46"));
  const hash = new URLSearchParams((await page.evaluate(() => location.hash)).slice(1));
  assert.deepEqual([hash.get("layer"), hash.get("file")], [layer, "bin/busybox"]);
  // The file downloads whole; the layer's blob downloads as stored.
  const downloaded = async (selector) => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
    return [download.suggestedFilename(), readFileSync(await download.path())];
  };
  assert.deepEqual(await downloaded("#file-download"), ["busybox", Buffer.from("\x7fELF\x02\x01\x01\x00binary", "latin1")]);
  assert.deepEqual(await downloaded("#layer-raw"), [`${layer.replace(":", "-")}.tar.gz`, layerFixture("layer.tar.gz")]);
  await page.screenshot({ path: join(artifacts, "serve-file.png"), fullPage: true });
  await page.close();
});

test("a zstd layer opens through the layer module, fetched only then", async () => {
  const page = await readIn(zstdImage.ref);
  const fetched = [];
  page.on("request", (r) => fetched.push(new URL(r.url()).pathname));
  await page.click(`#document-json a[data-digest="${zstdImage.layer}"]`);
  assert.equal(await layerDone(page, zstdImage.layer), "done");
  assert.deepEqual(fetched.filter((p) => p.endsWith(".wasm")), ["/pkg/layer/ferry_layer.wasm"]);
  assert.match(await page.textContent("#layer-note"), /^zstd-compressed tar: 10 members/);
  assert.equal(await page.getAttribute(`#layer-table tr[data-path="etc/passwd"]`, "class"), "deleted");
  await page.click(`button[aria-label="Open etc/hostname"]`);
  await page.waitForFunction(() => document.getElementById("file-content").textContent === "ferry-test\n");
  await page.close();
});

test("a link with layer= and file= restores the tree and the file after r= and d= have loaded the manifest", async () => {
  const layer = JSON.parse(nativeRaw(`docker://${registry}/files@${files.arm.digest}`)).layers[1].digest;
  const hash = "#" + new URLSearchParams({ r: files.ref, d: files.arm.digest, layer, file: "etc/hostname" });
  const page = await openPage(hash);
  await page.waitForFunction(() => document.getElementById("file-content").textContent === "other\n", null, { timeout: 30_000 });
  assert.equal(await page.getAttribute("#layer", "data-digest"), layer);
  assert.equal(await page.locator(`#layer-table tr[data-path="usr/local"]`).count(), 1);
  await page.close();

  // The path filter and the hex view travel too.
  const filtered = await openPage(hash + "&" + new URLSearchParams({ lq: "usr", fm: "hex" }));
  await filtered.waitForFunction(() => document.getElementById("file-content").dataset.mode === "hex"
    && document.getElementById("file-content").textContent.startsWith("00000000  6f 74 68 65 72 0a"), null, { timeout: 30_000 });
  const paths = await filtered.locator("#layer-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.path));
  assert.deepEqual(paths, ["usr", "usr/local"]);
  assert.equal(await filtered.inputValue("#layer-filter"), "usr");
  await filtered.close();
});

test("every digest link of a list, and of the images it names, opens without an error", async () => {
  const page = await readIn(files.ref);
  const index = JSON.parse(nativeRaw(files.ref));
  const links = await page.locator("#document-json a.digest-link").evaluateAll((as) => as.map((a) => a.dataset.digest));
  assert.deepEqual(links, index.manifests.map((m) => m.digest));
  await page.screenshot({ path: join(artifacts, "serve-document.png"), fullPage: true });
  // The README's picture (web/docs/document.png is a copy).
  await page.locator("#document").screenshot({ path: join(artifacts, "document.png") });
  for (const digest of links) {
    await page.click(`#document-json a[data-digest="${digest}"]`);
    assert.equal(await shownDigest(page, digest), digest);
    const image = JSON.parse(await page.inputValue("#manifest"));
    await page.click(`#document-json a[data-digest="${image.config.digest}"]`);
    await page.waitForFunction(() => !document.getElementById("config-view").hidden);
    assert.deepEqual(JSON.parse(await page.textContent("#config-view")).rootfs.diff_ids, image.layers.map((l) => l.digest));
    for (const l of image.layers) {
      await page.click(`#document-json a[data-digest="${l.digest}"]`);
      assert.equal(await layerDone(page, l.digest), "done");
    }
    assert.notEqual(await page.getAttribute("#status", "class"), "bad", await page.textContent("#status"));
    await page.click("#trail button.back");
    await shownDigest(page, files.ref);
  }
  await page.close();
});

test("hostile layers end in a clear message in the page: a path escape, a truncated gzip stream, a decompression bomb, a member longer than the layer", async () => {
  const page = await readIn(hostile.ref);
  const layers = JSON.parse(await page.inputValue("#manifest")).layers;
  const expected = {
    escape: ["done", /"\.\.\/\.\.\/etc\/shadow": path "\.\.\/\.\.\/etc\/shadow" has a '\.\.' component/],
    truncated: ["error", /the layer's gzip stream is truncated or corrupt/],
    bomb: ["error", /expands to more than 268435456 bytes .* decompression bomb/],
    endless: ["error", /truncated layer: "endless" declares 8589934592 bytes, the layer ends after 1024/],
  };
  const names = Object.keys(hostileLayers);
  for (const [i, l] of layers.entries()) {
    const [state, message] = expected[names[i]];
    await page.click(`#document-json a[data-digest="${l.digest}"]`);
    assert.equal(await layerDone(page, l.digest), state, names[i]);
    assert.match(await page.textContent("#layer-problems"), message, names[i]);
    if (names[i] === "bomb") await page.screenshot({ path: join(artifacts, "serve-hostile.png"), fullPage: true });
  }
  await page.close();
});

test("the image's filesystem: its layers applied in order, each path with the layer it comes from, what each layer adds, changes and deletes", async () => {
  const hash = "#" + new URLSearchParams({ r: files.ref, d: files.arm.digest, fs: "1" });
  const page = await openPage(hash);
  await page.waitForFunction(() => document.getElementById("filesystem").dataset.state === "done", null, { timeout: 30_000 });
  const layers = JSON.parse(await page.inputValue("#manifest")).layers.map((l) => l.digest);
  const rows = await page.locator("#fs-table tbody tr").evaluateAll((trs) => trs.map((r) => [r.dataset.path, r.lastElementChild.textContent]));
  const from = Object.fromEntries(rows.map(([p, l]) => [p, l.split(" ")[0]]));
  assert.deepEqual(Object.keys(from), ["bin", "bin/ash", "bin/busybox", "bin/sh", "etc", "etc/hostname", "usr", "usr/local", "var", "var/log"]);
  assert.deepEqual([from["bin/sh"], from["etc/hostname"], from["usr/local"]], ["#0", "#1", "#1"]);
  assert.match(rows.find(([p]) => p === "etc/hostname")[1], new RegExp(layers[1].slice(0, 19)));
  const changes = await page.locator("#fs-changes tbody tr[data-layer='1']").textContent();
  assert.match(changes, /2 added.*1 changed.*none/s);
  // A file of the merged tree opens in the layer it comes from.
  await page.click(`#fs-table button[aria-label="Open etc/hostname"]`);
  await page.waitForFunction(() => document.getElementById("file-content").textContent === "other\n", null, { timeout: 30_000 });
  assert.equal(await page.getAttribute("#layer", "data-digest"), layers[1]);
  await page.locator("#filesystem").screenshot({ path: join(artifacts, "serve-filesystem.png") });
  await page.close();
});

test("two platforms of a list side by side: the layers they share, the files that differ, sizes", async () => {
  const page = await readIn(files.ref);
  assert.deepEqual([await page.inputValue("#compare-a"), await page.inputValue("#compare-b")], [files.amd.digest, files.arm.digest]);
  await page.click("#compare-run");
  await page.waitForFunction(() => document.getElementById("compare-result").dataset.state === "done", null, { timeout: 30_000 });
  const amd = JSON.parse(nativeRaw(`docker://${registry}/files@${files.amd.digest}`));
  const arm = JSON.parse(nativeRaw(`docker://${registry}/files@${files.arm.digest}`));
  const layers = await page.locator("#compare-layers tbody tr").evaluateAll((trs) => trs.map((r) => [r.className, r.cells[1].textContent]));
  assert.deepEqual(layers, [["shared", amd.layers[0].digest], ["only-b", arm.layers[1].digest]]);
  const differ = await page.locator("#compare-files tbody tr").evaluateAll((trs) => trs.map((r) => [r.dataset.path, r.className, r.cells[2].textContent, r.cells[3].textContent]));
  assert.deepEqual(differ, [["etc/hostname", "metadata", "11 B", "6 B"], ["usr", "only-b", "–", "dir"], ["usr/local", "only-b", "–", "dir"]]);
  assert.match(await page.textContent("#compare-note"), /1 layers shared \(290 B\); 3 paths differ/);
  const hash = new URLSearchParams((await page.evaluate(() => location.hash)).slice(1));
  assert.equal(hash.get("cmp"), `${files.amd.digest},${files.arm.digest}`);
  await page.locator("#list").screenshot({ path: join(artifacts, "serve-compare.png") });
  await page.close();
});

test("an image compared with another tag: its layers and files against the other's; a list there gives the entry for this image's platform", async () => {
  const page = await readIn(`docker://${registry}/files:amd64`);
  await page.fill("#compare-ref", `${registry}/files:arm64`);
  await page.click("#compare-ref-run");
  await page.waitForFunction(() => document.getElementById("compare-result").dataset.state === "done", null, { timeout: 30_000 });
  const differ = await page.locator("#compare-files tbody tr").evaluateAll((trs) => trs.map((r) => [r.dataset.path, r.className]));
  assert.deepEqual(differ, [["etc/hostname", "metadata"], ["usr", "only-b"], ["usr/local", "only-b"]]);
  const hash = new URLSearchParams((await page.evaluate(() => location.hash)).slice(1));
  assert.equal(hash.get("with"), `docker://${registry}/files:arm64`);

  // The list: ferry-core chooses its amd64 entry, the same image.
  await page.press("#compare-ref", "Control+A");
  await page.fill("#compare-ref", `${registry}/files:latest`);
  await page.press("#compare-ref", "Enter");
  await page.waitForFunction(() => document.getElementById("compare-result").dataset.state === "done"
    && document.getElementById("compare-note").textContent.includes("linux/amd64"), null, { timeout: 30_000 });
  assert.match(await page.textContent("#compare-note"), /B: 127\.0\.0\.1:\d+\/files:latest \(linux\/amd64\), 1 layers, 290 B\. 1 layers shared \(290 B\); 0 paths differ/);
  await page.close();
});

test("render times of a 500-entry list, a 200-layer image and a 10,000-file layer (measured, not asserted)", async (t) => {
  const page = await openPage();
  const digest = (i) => "sha256:" + createHash("sha256").update(String(i)).digest("hex");
  const list = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: Array.from({ length: 500 }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: digest(i), size: 500 + i, platform: { os: "linux", architecture: `arch${i}` } })) });
  const image = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digest("c"), size: 100 },
    layers: Array.from({ length: 200 }, (_, i) => ({ mediaType: GZIP_LAYER, digest: digest(`l${i}`), size: 1000 + i })) });
  const paste = (text) => page.evaluate((text) => {
    const box = document.getElementById("manifest");
    const started = performance.now();
    box.value = text;
    box.dispatchEvent(new Event("input"));
    return performance.now() - started;
  }, text);
  const listMs = await paste(list);
  assert.equal(await page.locator("#platform-table tbody tr").count(), 500);
  const imageMs = await paste(image);
  assert.equal(await page.locator("#image-table tbody tr.layer").count(), 200);
  await page.close();

  const big = await readIn(bigLayer.ref);
  // From the click to the first frame drawn after the tree is in the page.
  await big.evaluate((d) => { window.clickedAt = performance.now(); document.querySelector(`#document-json a[data-digest="${d}"]`).click(); }, bigLayer.digest);
  assert.equal(await layerDone(big, bigLayer.digest), "done");
  const layerMs = Math.round(await big.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now() - window.clickedAt)))));
  assert.equal(await big.locator(`#layer-table tbody tr.file`).count(), 10_000);
  const note = await big.textContent("#layer-note");
  t.diagnostic(`500-entry list: ${listMs.toFixed(0)} ms; 200-layer image: ${imageMs.toFixed(0)} ms; 10,000-file layer: ${layerMs} ms from the click (${note})`);
  writeFileSync(join(artifacts, "render-times.txt"), `500-entry list: ${listMs.toFixed(0)} ms\n200-layer image: ${imageMs.toFixed(0)} ms\n10,000-file layer: ${layerMs} ms from the click; ${note}\n`);
  await big.close();
});

let referred;
/**
 * `signed:latest` (an image) and its SBOM, an OCI artifact manifest whose
 * `subject` is the image, pushed through the registry API. The registry
 * (docker-registry 2.8) has no referrers API, so the SBOM is listed in the
 * fallback tag `sha256-HEX` of the image's digest, as `ferry copy
 * --referrers` lists what it writes there.
 */
async function pushReferred() {
  if (referred) return referred;
  const repo = "signed";
  const image = await pushImage(repo, "latest", "amd64", [[layerFixture("layer.tar.gz"), GZIP_LAYER]]);
  const empty = await pushBlob(repo, Buffer.from("{}"));
  const spdx = await pushBlob(repo, Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", name: "signed" })));
  const artifactType = "application/spdx+json";
  const annotations = { "org.opencontainers.image.created": "2026-12-02T00:00:00Z", "org.example.made-by": "ferry web tests" };
  const manifest = {
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType,
    config: { mediaType: "application/vnd.oci.empty.v1+json", ...empty },
    layers: [{ mediaType: artifactType, ...spdx }],
    subject: image, annotations,
  };
  const sbomDigest = sha256(Buffer.from(JSON.stringify(manifest, null, 2)));
  const sbom = await pushManifest(repo, sbomDigest, OCI_MANIFEST, manifest);
  await pushManifest(repo, image.digest.replace(":", "-"), "application/vnd.oci.image.index.v1+json", {
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ ...sbom, artifactType, annotations }],
  });
  referred = { ref: `docker://${registry}/${repo}:latest`, image, sbom, artifactType, annotations };
  return referred;
}

/** Another ferry serve, judging by `policy` (a file of native/tests/fixtures/serve/): its base URL. */
async function serveWith(policy) {
  const served = start(FERRY, ["--policy", join(root, "native/tests/fixtures/serve", policy), "serve", "--listen", "127.0.0.1:0", "--tls-verify=false"], { cwd: root });
  return waitFor(`ferry serve --policy ${policy}`, () => /http:\/\/(127\.0\.0\.1:\d+)\//.exec(served.output)?.[0].replace(/\/$/, ""));
}

/** Waits until the policy line has a verdict; its text. */
async function policyLine(page) {
  await page.waitForFunction(() => document.getElementById("policy-verdict"), null, { timeout: 20_000 });
  return page.textContent("#referrers");
}

test("a manifest's referrers are listed from the registry's fallback tag as ferry inspect --referrers lists them, and a referrer's digest opens it", async () => {
  const { ref, image, sbom, artifactType, annotations } = await pushReferred();
  const native = JSON.parse(ferry(["inspect", "--referrers", "--json", "--tls-verify=false", ref]));
  assert.deepEqual(native.map((r) => r.digest), [sbom.digest]);
  const at = await serveWith("accept.json");
  const page = await readIn(ref, "", at);
  assert.equal(await shownDigest(page, ref), image.digest);
  await page.waitForFunction(() => document.querySelectorAll("#referrers-table tbody tr").length > 0, null, { timeout: 20_000 });
  const rows = await page.locator("#referrers-table tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.equal(rows.length, native.length);
  const [type, mediaType, digest, size, shownAnnotations] = rows[0];
  assert.equal(type, artifactType);
  assert.equal(mediaType, OCI_MANIFEST);
  assert.equal(digest, sbom.digest);
  assert.ok(size.includes(`${sbom.size.toLocaleString("en-US")} B`), size);
  for (const [k, v] of Object.entries(annotations)) assert.ok(shownAnnotations.includes(k) && shownAnnotations.includes(v), shownAnnotations);
  assert.match(await page.textContent("#referrers-note"), /1 referrer;/);
  // The policy accepts anything: allowed, and the image it judged.
  assert.match(await policyLine(page), /Policy: ✓ allowed by the policy ferry serve was started with/);
  assert.match(await page.textContent("#policy-reasons"), new RegExp(`${ref.replace(/[.]/g, "\\.")} is allowed`));
  await page.screenshot({ path: join(artifacts, "serve-referrers.png"), fullPage: true });

  // The digest opens the referrer as any document: its subject is the image.
  await page.click(`#referrers-table a.referrer-link[data-digest="${sbom.digest}"]`);
  assert.equal(await shownDigest(page, sbom.digest), sbom.digest);
  const shown = JSON.parse(await page.inputValue("#manifest"));
  assert.equal(shown.subject.digest, image.digest);
  assert.equal(shown.artifactType, artifactType);
  await page.waitForFunction(() => /Nothing refers to sha256:/.test(document.getElementById("referrers-note").textContent), null, { timeout: 20_000 });
  assert.notEqual(await page.getAttribute("#status", "class"), "bad", await page.textContent("#status"));
  await page.close();
});

test("under a reject policy the policy line says the image is refused, and why", async () => {
  const { ref } = await pushReferred();
  const verify = spawnSync(FERRY, ["--policy", join(root, "native/tests/fixtures/serve/reject.json"), "verify", "--json", "--tls-verify=false", ref], { cwd: root });
  assert.equal(verify.status, 1, `${verify.stdout}${verify.stderr}`);
  const native = JSON.parse(verify.stdout);
  assert.equal(native.allowed, false);
  const at = await serveWith("reject.json");
  const page = await readIn(ref, "", at);
  assert.match(await policyLine(page), /Policy: ✗ refused by the policy ferry serve was started with/);
  const reasons = await page.textContent("#policy-reasons");
  assert.ok(reasons.includes(native.images[0].reason), `${reasons} | ${native.images[0].reason}`);
  await page.screenshot({ path: join(artifacts, "serve-policy-refused.png"), fullPage: true });
  await page.close();
});

test("no script errors on the page", () => {
  assert.deepEqual(pageErrors, []);
});
