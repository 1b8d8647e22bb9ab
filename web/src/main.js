// The ferry manifest inspector: every answer comes from ferry-core (the
// ferry-wasm package's web build, served at ./pkg/). This module makes the
// one `app` object (state, ferry-core, the ferry serve client, actions),
// wires the page's controls to the actions and starts. See ../README.md
// for the module layout.

import { createActions } from "./actions.js";
import { layerModule } from "./layer-module.js";
import { filesOfEntry, filesOfList } from "./layout.js";
import { readLink } from "./link.js";
import { guessPlatformPrecise } from "./platform.js";
import { createProxy } from "./proxy.js";
import { createState } from "./state.js";
import { $, setStatus } from "./views/dom.js";
import { renderFilesystem } from "./views/filesystem.js";
import { renderLayer } from "./views/layer.js";

function wireInput(app) {
  const { actions } = app;
  const render = () => actions.render();
  $("manifest").addEventListener("input", () => actions.edit($("manifest").value));
  $("file").addEventListener("change", () => {
    const f = $("file").files[0];
    if (f) actions.readFile(f);
  });
  $("layout-file").addEventListener("change", () => {
    const f = $("layout-file").files[0];
    if (f) actions.readFile(f);
  });
  $("layout-dir").addEventListener("change", () => {
    const list = [...$("layout-dir").files];
    if (!list.length) return;
    const name = (list[0].webkitRelativePath || list[0].name).split("/")[0];
    filesOfList(list).then((files) => actions.readFolder(files, name), (e) => setStatus(e.message, true));
  });
  const zone = $("dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const entry = e.dataTransfer.items?.[0]?.webkitGetAsEntry?.();
    if (entry && entry.isDirectory) {
      filesOfEntry(entry).then((files) => actions.readFolder(files, entry.name), (err) => setStatus(err.message, true));
      return;
    }
    const f = e.dataTransfer.files[0];
    if (f) actions.readFile(f);
  });
  $("expected").addEventListener("input", render);
  $("platform").addEventListener("input", render);
  $("default-platform").addEventListener("input", render);
  $("convert-to").addEventListener("change", () => { $("convert-to").dataset.chosen = "1"; render(); });
  $("use-mine").addEventListener("click", async () => { $("platform").value = await guessPlatformPrecise(navigator); render(); });
  $("registry-read").addEventListener("click", () => actions.readRegistry($("registry-ref").value));
  $("registry-ref").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); actions.readRegistry($("registry-ref").value); }
  });
  $("plan-dest").addEventListener("change", () => { $("plan-dest").dataset.chosen = "1"; render(); });
  for (const r of document.querySelectorAll("input[name=plan-sel]")) r.addEventListener("change", render);
  $("plan-strip").addEventListener("change", render);
  $("plan-instances").addEventListener("change", render);
  $("share").addEventListener("click", async (e) => {
    e.preventDefault();
    actions.updateLink();
    try {
      await navigator.clipboard.writeText(location.href);
      setStatus("Link copied to the clipboard.");
    } catch {
      setStatus("The address bar now holds a link to this view.");
    }
  });
  window.addEventListener("hashchange", () => actions.applyLink());
  $("layer-filter").addEventListener("input", () => { renderLayer(app); actions.updateLink(); });
  $("fs-open").addEventListener("click", () => actions.openFilesystem());
  $("fs-filter").addEventListener("input", () => { renderFilesystem(app); actions.updateLink(); });
  $("compare-run").addEventListener("click", () => actions.compare($("compare-a").value, $("compare-b").value));
  const compareWith = () => actions.compareWith($("compare-ref").value, $("compare-a").value || null);
  $("compare-ref-run").addEventListener("click", compareWith);
  $("compare-ref").addEventListener("keydown", (e) => { if (e.key === "Enter") compareWith(); });
  $("layer-close").addEventListener("click", () => actions.closeLayer());
  $("file-text").addEventListener("click", () => actions.fileMode("text"));
  $("file-hex").addEventListener("click", () => actions.fileMode("hex"));
  $("file-download").addEventListener("click", () => actions.downloadFile());
}

async function start() {
  // The layer module (zstd, layer stacking, comparing filesystems), fetched
  // the first time a zstd layer is read or an image's layers are stacked.
  const layers = layerModule(async () => {
    const r = await fetch(new URL("../pkg/layer/ferry_layer.wasm", import.meta.url));
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    return r.arrayBuffer();
  });
  const app = {
    state: createState(), ferry: null, proxy: createProxy((url, init) => fetch(url, init)),
    layerModule: layers, zstd: layers.zstd,
  };
  app.actions = createActions(app);
  wireInput(app);
  await app.actions.detectProxy();
  try {
    app.ferry = await import("../pkg/web/index.js");
  } catch (e) {
    setStatus(`Could not load ferry-core's WebAssembly (./pkg/web/index.js): ${e.message}`, true);
    document.documentElement.dataset.ready = "error";
    return;
  }
  app.actions.applyLink();
  // A registry link is still being read, or its refusal is on show.
  if (!app.state.bytes.length && readLink(location.hash).r === null) setStatus("Ready: paste a manifest or choose a file.");
  document.documentElement.dataset.ready = "1";
}

start();
