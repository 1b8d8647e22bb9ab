// Starts workerd (from npm) with two workers on 127.0.0.1: the edge-gate
// example of wasm/examples and the parity worker. Both import "ferry-wasm",
// which resolves to the package's workerd entry, as the "workerd" export
// condition makes bundlers resolve it; the .wasm is a `wasm` module, i.e. a
// precompiled WebAssembly.Module, as on Cloudflare.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";

import { here, root } from "./harness.mjs";

const pkg = join(root, "wasm", "pkg");

/**
 * `n` distinct free ports on 127.0.0.1: every listener stays open until all
 * are chosen, so the kernel cannot hand the same port out twice.
 */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Module name → [kind, file]; files are linked into the config's folder. */
function modules(main) {
  return [
    main,
    // A bare "ferry-wasm" import resolves to the module of that name.
    ["ferry-wasm", "esModule", null, 'export * from "./node_modules/ferry-wasm/workerd/index.js";\n'],
    ["node_modules/ferry-wasm/workerd/index.js", "esModule", join(pkg, "workerd", "index.js")],
    ["node_modules/ferry-wasm/web/ferry_wasm.js", "esModule", join(pkg, "web", "ferry_wasm.js")],
    ["node_modules/ferry-wasm/web/ferry_wasm_bg.wasm", "wasm", join(pkg, "web", "ferry_wasm_bg.wasm")],
  ];
}

/** Starts workerd; resolves to { gate, parity (base URLs), stop() }. */
export async function startWorkerd() {
  const dir = mkdtempSync(join(tmpdir(), "ferry-workerd-"));
  const workers = {
    gate: modules(["worker.js", "esModule", join(root, "wasm", "examples", "edge-gate", "worker.js")]),
    parity: [
      ...modules(["parity.js", "esModule", join(here, "workerd-parity-worker.js")]),
      ["calls.mjs", "esModule", join(here, "calls.mjs")],
      ["operations.json", "json", join(here, "operations.json")],
    ],
  };
  const [gatePort, parityPort] = await freePorts(2);
  const ports = { gate: gatePort, parity: parityPort };
  let config = 'using Workerd = import "/workerd/workerd.capnp";\n\n';
  config += "const config :Workerd.Config = (\n  services = [\n";
  config += Object.keys(workers).map((w) => `    (name = "${w}", worker = .${w}Worker)`).join(",\n");
  config += "\n  ],\n  sockets = [\n";
  config += Object.keys(workers)
    .map((w) => `    (name = "${w}", address = "127.0.0.1:${ports[w]}", http = (), service = "${w}")`)
    .join(",\n");
  config += "\n  ],\n);\n";
  for (const [w, mods] of Object.entries(workers)) {
    const lines = mods.map(([name, kind, file, text]) => {
      const local = join(w, name);
      mkdirSync(dirname(join(dir, local)), { recursive: true });
      if (text !== undefined) writeFileSync(join(dir, local), text);
      else symlinkSync(file, join(dir, local));
      return `    (name = "${name}", ${kind} = embed "${local}")`;
    });
    config += `\nconst ${w}Worker :Workerd.Worker = (\n  modules = [\n${lines.join(",\n")}\n  ],\n  compatibilityDate = "2025-01-01",\n);\n`;
  }
  writeFileSync(join(dir, "config.capnp"), config);

  const require = createRequire(import.meta.url);
  const binary = join(dirname(require.resolve("workerd/package.json")), "bin", "workerd");
  const child = spawn(binary, ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "inherit", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));

  const urls = { gate: `http://127.0.0.1:${ports.gate}`, parity: `http://127.0.0.1:${ports.parity}` };
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when both sockets answer (bounded: 20 s).
  const deadline = Date.now() + 20_000;
  for (const url of Object.values(urls)) {
    for (;;) {
      if (child.exitCode !== null) {
        await stop();
        throw new Error(`workerd exited with ${child.exitCode}:\n${stderr}`);
      }
      try {
        await fetch(url, { method: "POST", body: "{}" });
        break;
      } catch {
        if (Date.now() > deadline) {
          await stop();
          throw new Error(`workerd did not start listening:\n${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return { ...urls, stop, stderr: () => stderr };
}
