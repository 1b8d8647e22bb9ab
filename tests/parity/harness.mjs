// Shared by the parity tests: the native answers, the conformance cases and
// the calls of operations.json, and how each call maps onto the package's
// JavaScript functions.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { answers, friendly } from "./calls.mjs";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");

/** The calls every runtime makes: [{ op, args }] with args a JSON string. */
export const calls = JSON.parse(readFileSync(join(here, "operations.json"), "utf8")).calls;

/**
 * The native runner's output: { header, lines: Map(case → line), text }. Read from
 * $FERRY_PARITY_NATIVE when set (a file the runner wrote), else run it.
 */
export function native() {
  const text = process.env.FERRY_PARITY_NATIVE
    ? readFileSync(process.env.FERRY_PARITY_NATIVE, "utf8")
    : execFileSync("cargo", ["run", "-q", "-p", "ferry-tests", "--bin", "parity"], {
        cwd: root,
        encoding: "utf8",
        maxBuffer: 1 << 28,
        stdio: ["ignore", "pipe", "inherit"],
      });
  const [first, ...rest] = text.split("\n").filter((l) => l.length > 0);
  const header = JSON.parse(first);
  const lines = new Map();
  for (const line of rest) {
    const name = JSON.parse(line.slice(0, line.indexOf(',"answers":')) + "}").case;
    lines.set(name, line);
  }
  if (lines.size !== header.cases || header.calls !== calls.length) {
    throw new Error(`native output: ${lines.size} cases (header says ${header.cases}), ${header.calls} calls (operations.json has ${calls.length})`);
  }
  return { header, lines, text };
}

/**
 * A case's bytes: a conformance case, or (named `parity/NAME`) one of the
 * suite's own inputs in tests/parity/cases.
 */
export function caseBytes(header, name) {
  return new Uint8Array(readFileSync(casePath(header, name)));
}

/** Where a case's file is. */
export function casePath(header, name) {
  return name.startsWith("parity/")
    ? join(header.parityCasesDir, name.slice("parity/".length) + ".json")
    : join(header.conformanceDir, name + ".json");
}

/** The line the native runner prints for a case, from the joined answers. */
export function line(name, joined) {
  return `{"case":${JSON.stringify(name)},"answers":[${joined}]}`;
}

/**
 * Runs every call on every case with `ferry` and compares with native:
 * raw `call` text byte for byte, and the friendly functions' values with
 * the parsed native answers. Returns counts and the first mismatches.
 */
export function compare(ferry, expected, { friendlyToo = true } = {}) {
  return compareWith(expected, (bytes) => ({
    raw: answers(ferry, bytes, calls),
    friendly: friendlyToo ? calls.map((c) => friendly(ferry, bytes, c)) : null,
  }));
}

/**
 * Compares native answers with what `run(bytes, name)` gives for each case:
 * { raw: [call text…], friendly: [{ok}|{error}…] | null }. `run` may be
 * async (another runtime answering over HTTP or CDP).
 */
export async function compareWith({ header, lines }, run) {
  const mismatches = [];
  let count = 0;
  for (const [name, expected] of lines) {
    const bytes = caseBytes(header, name);
    const { raw, friendly: values } = await run(bytes, name);
    count += calls.length;
    const want = JSON.parse(expected).answers;
    if (line(name, raw.join(",")) !== expected) {
      const before = mismatches.length;
      raw.forEach((r, i) => {
        if (r !== JSON.stringify(want[i])) {
          mismatches.push(`${name}: call ${i} ${calls[i].op} ${calls[i].args}: wasm ${r.slice(0, 300)} native ${JSON.stringify(want[i]).slice(0, 300)}`);
        }
      });
      if (mismatches.length === before) mismatches.push(`${name}: the lines differ`);
    }
    if (values) {
      values.forEach((value, i) => {
        const got = JSON.stringify(value);
        if (got !== JSON.stringify(want[i])) {
          mismatches.push(`${name}: friendly ${calls[i].op} ${calls[i].args}: ${got.slice(0, 300)} vs native ${JSON.stringify(want[i]).slice(0, 300)}`);
        }
      });
    }
  }
  return { cases: lines.size, answers: count, mismatches };
}
