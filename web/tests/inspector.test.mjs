// The browser manifest inspector (web/) end to end in headless Chromium
// (Debian's, driven by playwright-core; FERRY_CHROMIUM overrides the path):
// the page is served as a static site with the ferry-wasm package at
// /pkg/, and every flow is checked against containers/image's answers in
// tests/conformance (FERRY_CONFORMANCE overrides the folder).
// Screenshots go to target/web-artifacts/ (gitignored, with the build).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const web = dirname(here);
const root = dirname(web);
const pkg = join(root, "wasm", "pkg");
const conformance = process.env.FERRY_CONFORMANCE ?? join(root, "tests", "conformance");
const generated = join(conformance, "generated");
const artifacts = join(root, "target", "web-artifacts");
const CHROMIUM = process.env.FERRY_CHROMIUM ?? "/usr/bin/chromium";
const TYPES = {
  ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
  ".wasm": "application/wasm", ".html": "text/html; charset=utf-8", ".css": "text/css",
};

mkdirSync(artifacts, { recursive: true });

/** Serves /pkg/ from wasm/pkg and everything else from web/, on 127.0.0.1 at a random port. */
function serve() {
  const mounts = [["/pkg/", pkg], ["/", web]];
  const server = createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path === "/") path = "/index.html";
    for (const [prefix, dir] of mounts) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length)));
      if ((file + sep).startsWith(dir + sep) && existsSync(file) && statSync(file).isFile()) {
        res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
        return;
      }
      break;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const expectedOf = (name) => JSON.parse(readFileSync(join(generated, name.replace(/\.json$/, ".expected.json")), "utf8"));
const cases = readdirSync(generated).filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json")).sort();
const b64url = (buf) => Buffer.from(buf).toString("base64url");

let server, browser, base;
const pageErrors = [];

async function openPage(hash = "", viewport = { width: 1200, height: 900 }) {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready, null, { timeout: 20_000 });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.ready), "1", await page.textContent("#status"));
  return page;
}

/** Pastes text into the manifest box as a person would (an input event). */
async function paste(page, text) {
  await page.fill("#manifest", text);
}

before(async () => {
  assert.ok(existsSync(join(pkg, "web", "index.js")), "wasm/pkg is missing: run bash scripts/build-wasm-pkg.sh");
  server = await serve();
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** What the summary shows, once the plain sha256 (computed asynchronously) is in. */
async function summary(page, input = "paste") {
  const handle = await page.waitForFunction((input) => {
    if (document.getElementById("summary").dataset.input !== input) return null;
    const sha = document.getElementById("sha256");
    if (!sha || !sha.textContent.startsWith("sha256:")) return null;
    const d = document.getElementById("digest");
    return { digest: d.textContent, digestClass: d.className, sha256: sha.textContent,
      detected: document.getElementById("detected-type").textContent };
  }, input, { polling: 10 });
  return handle.jsonValue();
}

/** Checks the page's digest and detected media type against containers/image's. */
async function checkSummary(page, name, input = "paste") {
  const exp = expectedOf(name);
  const { digest, digestClass, sha256, detected } = await summary(page, input);
  assert.equal(sha256, exp.sha256, `${name}: plain sha256`);
  if (exp.digest.startsWith("error: ")) {
    assert.equal(digestClass, "bad", `${name}: the error is shown as an error`);
    assert.doesNotMatch(digest, /^sha256:/, `${name}: containers/image has no digest, the page shows ${digest}`);
  } else {
    assert.equal(digest, exp.digest, `${name}: digest`);
  }
  assert.equal(detected, exp.guess_mime === "" ? "(not recognised)" : exp.guess_mime, `${name}: detected media type`);
}

test("pasting each conformance manifest shows containers/image's digest and media type", async () => {
  const page = await openPage();
  let pasted = 0, uploaded = 0;
  // Every case a text box cannot hold, and every third other case (all of
  // them with FERRY_WEB_ALL_CASES=1: about twice as long).
  const all = process.env.FERRY_WEB_ALL_CASES === "1";
  for (const [i, name] of cases.entries()) {
    const bytes = readFileSync(join(generated, name));
    // A text box cannot hold exact CR bytes, a BOM or invalid UTF-8: those cases go through the file input.
    let text = null, input = "paste";
    try { text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes); } catch { /* not UTF-8 */ }
    const pastable = text !== null && !/[\r\uFEFF]/.test(text) && text.length > 0;
    if (pastable && !all && i % 3 !== 0) continue;
    if (pastable) {
      await paste(page, text);
      pasted++;
    } else {
      await page.setInputFiles("#file", join(generated, name));
      input = name;
      uploaded++;
    }
    await checkSummary(page, name, input);
  }
  assert.ok(pasted > (all ? 100 : 40) && uploaded > 10, `pasted ${pasted}, uploaded ${uploaded}`);
  await paste(page, readFileSync(join(generated, "0015-schema2.json"), "utf8"));
  await page.screenshot({ path: join(artifacts, "image.png"), fullPage: true });
  await page.close();
});

test("the expected-digest check, validation diagnostics with JSON pointers, config and layers", async () => {
  const page = await openPage();
  const name = "0015-schema2.json";
  const exp = expectedOf(name);
  await paste(page, readFileSync(join(generated, name), "utf8"));
  await page.fill("#expected", exp.digest);
  assert.match(await page.textContent("#digest-check"), /matches/);
  await page.fill("#expected", "sha256:" + "0".repeat(64));
  assert.match(await page.textContent("#digest-check"), /does not match/);
  assert.equal(await page.isVisible("#image"), true);
  assert.match(await page.textContent("#image-table tbody"), new RegExp(exp.config.digest));

  // An image with layers: one row per layer, and the total.
  const withLayers = cases.find((c) => {
    const e = expectedOf(c);
    return e.from_blob === "ok" && Array.isArray(e.layers) && e.layers.length > 1 && e.layers.every((l) => l.size >= 0) && /schema2|oci-manifest/.test(c);
  });
  assert.ok(withLayers);
  const e2 = expectedOf(withLayers);
  await paste(page, readFileSync(join(generated, withLayers), "utf8"));
  assert.equal(await page.locator("#image-table tbody tr.layer").count(), e2.layers.length);
  const total = e2.config.size + e2.layers.reduce((a, l) => a + l.size, 0);
  assert.match(await page.textContent("#image-total"), new RegExp(total.toLocaleString("en-US")));

  // Diagnostics name JSON pointers.
  await paste(page, readFileSync(join(generated, "0002-edge-schema1-bad-parent.json"), "utf8"));
  assert.match(await page.textContent("#validity"), /Invalid/);
  assert.equal(await page.textContent("#diagnostic-list .pointer"), "/history");
  await page.screenshot({ path: join(artifacts, "diagnostics.png"), fullPage: true });
  await page.close();
});

const QUERIES = ["linux/amd64", "linux/arm64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5", "linux/arm",
  "linux/s390x", "linux/ppc64le", "linux/386", "windows/amd64", "linux/riscv64", "plan9/mips64", "linux/arm/v8", "linux/amd64/v3"];

test("choosing a platform picks containers/image's entry for every query, with a reason per entry", async () => {
  const page = await openPage();
  const lists = cases.filter((c) => /-(oci-index|docker-list)(-nomime)?\.json$/.test(c)).slice(0, 4);
  assert.ok(lists.length === 4);
  let checked = 0;
  for (const name of lists) {
    const exp = expectedOf(name);
    await paste(page, readFileSync(join(generated, name), "utf8"));
    const entries = exp.instances.length;
    for (const q of QUERIES) {
      await page.fill("#platform", q);
      const shown = await page.evaluate(() => ({
        chosen: document.getElementById("chosen-digest")?.textContent ?? null,
        error: !!document.getElementById("choose-error"),
        rows: document.querySelectorAll("#verdict-table tbody tr").length,
        chosenRows: document.querySelectorAll("#verdict-table tbody tr.chosen").length,
      }));
      const want = exp.choose[q];
      if (want.startsWith("error: ")) {
        assert.ok(shown.error && shown.chosenRows === 0, `${name} ${q}: expected no match`);
      } else {
        assert.equal(shown.chosen, want, `${name} ${q}`);
        assert.equal(shown.chosenRows, 1);
      }
      assert.equal(shown.rows, entries, `${name} ${q}: one verdict per entry`);
      checked++;
    }
  }
  await page.fill("#platform", "linux/arm/v7");
  await page.screenshot({ path: join(artifacts, "choose.png"), fullPage: true });
  assert.equal(checked, 4 * QUERIES.length);
  await page.close();
});

test("converting an OCI index to a Docker list shows the exact bytes, their digest and the losses", async () => {
  const page = await openPage();
  await paste(page, readFileSync(join(generated, "0020-oci-index.json"), "utf8"));
  assert.equal(await page.inputValue("#convert-to"), "docker-list", "the other form by default");
  const converted = await page.textContent("#converted");
  assert.equal(JSON.parse(converted).mediaType, "application/vnd.docker.distribution.manifest.list.v2+json");
  const sha = "sha256:" + createHash("sha256").update(converted, "utf8").digest("hex");
  assert.equal(await page.textContent("#converted-digest"), sha, "the digest is of the bytes shown");
  const losses = await page.locator("#loss-list li.loss").allTextContents();
  assert.ok(losses.some((l) => l.includes("/manifests/0/platform") && l.includes("defaulted")), losses.join("\n"));
  assert.ok(losses.some((l) => l.includes("/annotations") && l.includes("dropped")), losses.join("\n"));
  // The list's annotations, with the standard keys explained.
  assert.match(await page.textContent("#list-annotations"), /org\.opencontainers\.image\.created[\s\S]*when the image was built/);
  await page.screenshot({ path: join(artifacts, "convert.png"), fullPage: true });

  // A default platform fills the missing one; back to an OCI index loses nothing.
  await page.fill("#default-platform", "linux/amd64");
  assert.equal(JSON.parse(await page.textContent("#converted")).manifests[0].platform.architecture, "amd64");
  await page.selectOption("#convert-to", "oci-index");
  assert.equal(JSON.parse(await page.textContent("#converted")).mediaType, "application/vnd.oci.image.index.v1+json");
  await page.close();
});

test("the URL hash holds the view: a link restores manifest, platform, conversion and expected digest", async () => {
  const name = "0008-oci-index.json";
  const bytes = readFileSync(join(generated, name));
  const exp = expectedOf(name);
  const params = new URLSearchParams({ m: b64url(bytes), p: "linux/ppc64le", to: "oci-index", e: exp.digest });
  const page = await openPage("#" + params.toString());
  assert.equal(await page.inputValue("#manifest"), bytes.toString("utf8"));
  assert.equal(await page.inputValue("#platform"), "linux/ppc64le");
  assert.equal(await page.inputValue("#convert-to"), "oci-index");
  assert.equal(await page.textContent("#digest"), exp.digest);
  assert.match(await page.textContent("#digest-check"), /matches/);
  assert.equal(await page.textContent("#chosen-digest"), exp.choose["linux/ppc64le"]);

  // Changing the view rewrites the hash; opening that address restores it.
  await page.fill("#platform", "linux/arm/v7");
  const url = page.url();
  assert.match(url, /p=linux%2Farm%2Fv7/);
  const again = await openPage(url.slice(base.length + 1));
  assert.equal(await again.textContent("#chosen-digest"), exp.choose["linux/arm/v7"]);
  assert.equal(await again.textContent("#digest"), exp.digest);
  await again.close();

  // Exact bytes survive the link even when a text box could not hold them.
  const crlf = cases.find((c) => readFileSync(join(generated, c)).includes(13) && !expectedOf(c).digest.startsWith("error"));
  const third = await openPage("#m=" + b64url(readFileSync(join(generated, crlf))));
  assert.equal(await third.textContent("#digest"), expectedOf(crlf).digest, crlf);
  await third.close();
  await page.close();
});

test("a file chosen through the file input is inspected from its exact bytes", async () => {
  const page = await openPage();
  const name = "0011-mutant-index-invalidutf8.json";
  await page.setInputFiles("#file", join(generated, name));
  await checkSummary(page, name, name);
  assert.match(await page.textContent("#source-note"), /0011-mutant-index-invalidutf8\.json/);
  // Dropping a file on the box does the same.
  const drop = "0015-schema2.json";
  const dropBytes = [...readFileSync(join(generated, drop))];
  const dt = await page.evaluateHandle(({ bytes, name }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], name, { type: "application/json" }));
    return dt;
  }, { bytes: dropBytes, name: drop });
  await page.dispatchEvent("#dropzone", "drop", { dataTransfer: dt });
  await checkSummary(page, drop, drop);
  await page.close();
});

test("narrow screen and keyboard: labelled controls, reachable by Tab", async () => {
  const page = await openPage("", { width: 360, height: 780 });
  await paste(page, readFileSync(join(generated, "0020-oci-index.json"), "utf8"));
  for (const id of ["manifest", "file", "expected", "platform", "convert-to", "default-platform"]) {
    const label = await page.evaluate((id) => document.getElementById(id).labels?.[0]?.textContent.trim(), id);
    assert.ok(label, `#${id} has a label`);
  }
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= 360 + 1, `no horizontal page scroll on a narrow screen (${scrollWidth}px)`);
  // Tab from the top reaches the platform box; typing there changes the choice.
  await page.focus("#manifest");
  const seen = [];
  for (let i = 0; i < 20 && !seen.includes("platform"); i++) {
    await page.keyboard.press("Tab");
    seen.push(await page.evaluate(() => document.activeElement?.id));
  }
  assert.ok(seen.includes("platform"), seen.join(","));
  await page.keyboard.press("Control+A");
  await page.keyboard.type("linux/ppc64le");
  assert.equal(await page.textContent("#chosen-digest"), expectedOf("0020-oci-index.json").choose["linux/ppc64le"]);
  await page.screenshot({ path: join(artifacts, "narrow.png"), fullPage: true });
  await page.close();
});

// ---- OCI layouts ---------------------------------------------------------

const sha = (b) => "sha256:" + createHash("sha256").update(b).digest("hex");

/** A two-platform OCI layout: path → bytes, and the digests in it. */
function makeLayout() {
  const files = new Map([["oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}')]]);
  const blob = (b) => { files.set(`blobs/sha256/${sha(b).slice(7)}`, b); return { digest: sha(b), size: b.length }; };
  const manifests = {};
  const base = blob(Buffer.from("shared base layer bytes"));
  for (const [os, architecture] of [["linux", "amd64"], ["linux", "arm64"]]) {
    const config = blob(Buffer.from(JSON.stringify({ architecture, os, rootfs: { type: "layers", diff_ids: [] }, history: [{ created_by: "ADD base" }, { created_by: "RUN " + architecture }] })));
    const own = blob(Buffer.from(`layer for ${architecture}`));
    const m = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [base, own].map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...l })),
    }));
    manifests[`${os}/${architecture}`] = { ...blob(m), config: config.digest, total: config.size + base.size + own.size };
  }
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: Object.entries(manifests).map(([p, m]) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json", digest: m.digest, size: m.size,
      platform: { os: p.split("/")[0], architecture: p.split("/")[1] },
      annotations: { "org.opencontainers.image.ref.name": "demo" },
    })),
  }, null, 2));
  files.set("index.json", index);
  return { files, index: sha(index), manifests };
}

/** A ustar archive of path → bytes (as oci-archive writes one). */
function tar(files) {
  const parts = [];
  for (const [path, body] of files) {
    const h = Buffer.alloc(512);
    h.write(path, 0, 100);
    h.write("0000644\0", 100); h.write("0000000\0", 108); h.write("0000000\0", 116);
    h.write(body.length.toString(8).padStart(11, "0") + "\0", 124);
    h.write("00000000000\0", 136);
    h.write("        ", 148);
    h.write("0", 156);
    h.write("ustar\0", 257); h.write("00", 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    parts.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

test("an oci-archive tar and an OCI layout folder: follow the index to a manifest and its config, and back", async () => {
  const layout = makeLayout();
  const dir = mkdtempSync(join(tmpdir(), "ferry-web-"));
  try {
    const folder = join(dir, "demo-layout");
    for (const [p, b] of layout.files) {
      mkdirSync(dirname(join(folder, p)), { recursive: true });
      writeFileSync(join(folder, p), b);
    }
    writeFileSync(join(dir, "demo.tar"), tar(layout.files));

    const page = await openPage();
    await page.setInputFiles("#layout-file", join(dir, "demo.tar"));
    let s = await summary(page, "demo.tar/index.json");
    assert.equal(s.digest, layout.index);
    assert.match(await page.textContent("#layout-info"), /OCI layout “demo\.tar”: 7 blobs/);
    await page.fill("#platform", "linux/arm64");
    assert.equal(await page.textContent("#chosen-digest"), layout.manifests["linux/arm64"].digest);

    // Follow the arm64 entry (keyboard: focus the button, press Enter).
    const arm = layout.manifests["linux/arm64"];
    await page.focus(`button[aria-label="Open ${arm.digest}"]`);
    await page.keyboard.press("Enter");
    s = await summary(page, arm.digest);
    assert.equal(s.digest, arm.digest);
    assert.equal(await page.locator("#image-table tbody tr.layer").count(), 2);
    assert.equal(await page.textContent("#image-total"), `${arm.total} B`);
    await page.click(`button[aria-label="Show config ${arm.config}"]`);
    assert.match(await page.textContent("#config-view"), /RUN arm64/);
    assert.deepEqual(await page.locator("#trail li").allTextContents(), ["index.json", arm.digest.slice(0, 19)]);
    await page.screenshot({ path: join(artifacts, "layout.png"), fullPage: true });
    await page.click("#trail button.back");
    s = await summary(page, "demo.tar/index.json");
    assert.equal(s.digest, layout.index);

    // The same layout as a folder.
    await page.setInputFiles("#layout-dir", folder);
    s = await summary(page, "demo-layout/index.json");
    assert.equal(s.digest, layout.index);
    const amd = layout.manifests["linux/amd64"];
    await page.click(`button[aria-label="Open ${amd.digest}"]`);
    assert.equal((await summary(page, amd.digest)).digest, amd.digest);

    // A dir: folder: manifest.json and blobs named by their hex digest.
    const dirFolder = join(dir, "demo-dir");
    mkdirSync(dirFolder);
    writeFileSync(join(dirFolder, "version"), "Directory Transport Version: 1.1\n");
    for (const [p, b] of layout.files) {
      if (p.startsWith("blobs/")) writeFileSync(join(dirFolder, p.split("/")[2]), b);
    }
    writeFileSync(join(dirFolder, "manifest.json"), layout.files.get(`blobs/sha256/${amd.digest.slice(7)}`));
    await page.setInputFiles("#layout-dir", dirFolder);
    assert.equal((await summary(page, "demo-dir/manifest.json")).digest, amd.digest);
    assert.match(await page.textContent("#layout-info"), /dir: folder “demo-dir”/);
    await page.click(`button[aria-label="Show config ${amd.config}"]`);
    assert.match(await page.textContent("#config-view"), /RUN amd64/);
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a dir: folder holding a list: its instances, stored as <hex>.manifest.json, open on a click", async () => {
  // Written by skopeo (web/tests/fixtures/README.md); ferry writes the same.
  const folder = join(here, "fixtures", "demo-list-dir");
  const list = readFileSync(join(folder, "manifest.json"));
  const amd = JSON.parse(list).manifests.find((m) => m.platform.architecture === "amd64");
  const manifest = JSON.parse(readFileSync(join(folder, `${amd.digest.slice(7)}.manifest.json`)));
  const page = await openPage();
  await page.setInputFiles("#layout-dir", folder);
  assert.equal((await summary(page, "demo-list-dir/manifest.json")).digest, sha(list));
  assert.match(await page.textContent("#layout-info"), /dir: folder “demo-list-dir”/);
  await page.click(`button[aria-label="Open ${amd.digest}"]`);
  assert.equal((await summary(page, amd.digest)).digest, amd.digest);
  assert.deepEqual(await page.locator("#trail li").allTextContents(), ["manifest.json", amd.digest.slice(0, 19)]);
  assert.equal(await page.locator("#image-table tbody tr.layer").count(), manifest.layers.length);
  await page.click(`button[aria-label="Show config ${manifest.config.digest}"]`);
  assert.match(await page.textContent("#config-view"), /"architecture":\s*"amd64"/);
  await page.close();
});

test("on a plain static host the registry input is disabled with an explanation, and local input still works", async () => {
  const page = await openPage();
  assert.equal(await page.isDisabled("#registry-ref"), true);
  assert.equal(await page.isDisabled("#registry-read"), true);
  const note = await page.textContent("#registry-note");
  assert.match(note, /needs the page served by ferry serve/);
  assert.match(note, /answered 404 to api\/info/);
  const name = "0015-schema2.json";
  await paste(page, readFileSync(join(generated, name), "utf8"));
  await checkSummary(page, name);
  // A shared registry link on a static host says what it needs instead of failing silently.
  const link = await openPage("#r=" + encodeURIComponent("docker://localhost:5000/demo:latest"));
  assert.match(await link.textContent("#status"), /needs the page served by ferry serve/);
  await link.close();
  await page.close();
});

/** A dir: folder of one image whose config has `history`, with `layers` layer blobs. */
function writeDirImage(folder, history, layers) {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "version"), "Directory Transport Version: 1.1\n");
  const blob = (b) => { writeFileSync(join(folder, sha(b).slice(7)), b); return { digest: sha(b), size: b.length }; };
  const layerDescs = Array.from({ length: layers }, (_, i) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...blob(Buffer.from(`layer ${i} of ${folder}`)) }));
  const config = blob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layerDescs.map((l) => l.digest) }, history })));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config }, layers: layerDescs }));
  writeFileSync(join(folder, "manifest.json"), manifest);
  return { layers: layerDescs, digest: sha(manifest) };
}

test("config history beside the layers: empty_layer entries have none, and a count mismatch is a diagnostic", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-web-history-"));
  try {
    const page = await openPage();
    const good = writeDirImage(join(dir, "good"), [
      { created_by: "ADD base.tar /" }, { created_by: "ENV A=1", empty_layer: true }, { created_by: "RUN make" }], 2);
    await page.setInputFiles("#layout-dir", join(dir, "good"));
    await summary(page, "good/manifest.json");
    const rows = page.locator("#history-table tbody tr");
    assert.equal(await rows.count(), 3);
    const text = await rows.allTextContents();
    assert.ok(text[0].includes("ADD base.tar") && text[0].includes(good.layers[0].digest), text[0]);
    assert.ok(text[1].includes("ENV A=1") && text[1].includes("no layer"), text[1]);
    assert.equal(await rows.nth(1).getAttribute("class"), "no-layer");
    assert.ok(text[2].includes("RUN make") && text[2].includes(good.layers[1].digest), text[2]);
    assert.equal(await page.locator("#history-diagnostics li").count(), 0);
    await page.screenshot({ path: join(artifacts, "history.png"), fullPage: true });

    writeDirImage(join(dir, "bad"), [{ created_by: "ADD everything /" }], 3);
    await page.setInputFiles("#layout-dir", join(dir, "bad"));
    await summary(page, "bad/manifest.json");
    const problems = await page.locator("#history-diagnostics li").allTextContents();
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0], /history has 1 entry that created a layer \(1 in all\), but the manifest has 3 layers/);
    assert.equal(await page.locator("#history-table tbody tr").count(), 3, "layers without history still get a row");
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the copy plan preview of a layout: shared blobs once, transit operations per destination, selections and refusals from ferry-core", async () => {
  const layout = makeLayout();
  const dir = mkdtempSync(join(tmpdir(), "ferry-web-plan-"));
  try {
    writeFileSync(join(dir, "demo.tar"), tar(layout.files));
    const page = await openPage();
    await page.setInputFiles("#layout-file", join(dir, "demo.tar"));
    await summary(page, "demo.tar/index.json");
    await page.check("input[name=plan-sel][value=all]");
    await page.selectOption("#plan-dest", "oci");
    let plan = JSON.parse(await page.textContent("#plan-json"));
    assert.deepEqual(plan.listEntries, ["copy", "copy"]);
    assert.deepEqual(plan.manifests.map((m) => m.role), ["instance", "instance", "list"]);
    // The shared base layer is moved once, for both images.
    const base = plan.blobs.find((b) => b.usedBy.length === 2);
    assert.ok(base, JSON.stringify(plan.blobs));
    assert.equal(plan.blobs.length, 5);
    assert.equal(plan.bytesToCopy, plan.blobs.reduce((a, b) => a + b.size, 0));
    assert.match(await page.textContent("#plan-top"), /2 entries copied/);

    // docker-archive: one image only, so "all" is refused and "system" copies one, layers decompressed.
    await page.selectOption("#plan-dest", "docker-archive");
    assert.match(await page.textContent("#plan-error"), /cannot store a manifest list/);
    await page.check("input[name=plan-sel][value=system]");
    await page.fill("#platform", "linux/arm64");
    plan = JSON.parse(await page.textContent("#plan-json"));
    assert.deepEqual(plan.manifests.map((m) => [m.role, m.sourceDigest, m.mediaType]),
      [["image", layout.manifests["linux/arm64"].digest, "application/vnd.docker.distribution.manifest.v2+json"]]);
    assert.equal(plan.manifests[0].digest, null, "converted: a new digest");
    assert.match(await page.textContent("#plan-blobs tbody"), /decompressed/);

    // A pasted list has no instance manifests at hand: the plan says which are missing.
    await paste(page, layout.files.get("index.json").toString("utf8"));
    await page.selectOption("#plan-dest", "oci");
    await page.check("input[name=plan-sel][value=all]");
    assert.equal(await page.locator("#plan-missing li").count(), 2);
    assert.equal(await page.textContent("#plan-json"), "");
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a layer of a loaded OCI layout folder and oci-archive opens as a file tree, and a file in it as text", async () => {
  const files = new Map([["oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}')]]);
  const blob = (b) => { files.set(`blobs/sha256/${sha(b).slice(7)}`, b); return { digest: sha(b), size: b.length }; };
  const layer = blob(readFileSync(join(here, "fixtures", "layer", "layer.tar.gz")));
  const config = blob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })));
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
  })));
  files.set("index.json", Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest }] })));
  const dir = mkdtempSync(join(tmpdir(), "ferry-web-"));
  try {
    const folder = join(dir, "files-layout");
    for (const [p, b] of files) {
      mkdirSync(dirname(join(folder, p)), { recursive: true });
      writeFileSync(join(folder, p), b);
    }
    writeFileSync(join(dir, "files.tar"), tar(files));
    const page = await openPage();
    for (const [input, path, name] of [["#layout-dir", folder, "files-layout"], ["#layout-file", join(dir, "files.tar"), "files.tar"]]) {
      await page.setInputFiles(input, path);
      await summary(page, `${name}/index.json`);
      await page.click(`#document-json a[data-digest="${manifest.digest}"]`);
      await summary(page, manifest.digest);
      await page.click(`#document-json a[data-digest="${layer.digest}"]`);
      await page.waitForFunction(() => document.getElementById("layer").dataset.state === "done");
      assert.equal(await page.getAttribute(`#layer-table tr[data-path="etc/passwd"]`, "class"), "deleted", name);
      assert.match(await page.textContent(`#layer-table tr[data-path="bin/sh"]`), /sh → busybox/, name);
      await page.click(`button[aria-label="Open etc/hostname"]`);
      await page.waitForFunction(() => document.getElementById("file-content").textContent === "ferry-test\n");
    }
    await page.screenshot({ path: join(artifacts, "layout-layer.png"), fullPage: true });
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no script errors on the page", () => {
  assert.deepEqual(pageErrors, []);
});
