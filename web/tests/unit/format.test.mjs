// Pure helpers: base64url for links, sizes, JSON pointers, platforms.
import assert from "node:assert/strict";
import { test } from "node:test";

import { atPointer, formatSize, fromBase64url, toBase64url } from "../../src/format.js";
import { guessPlatform, platformQuery, platformText } from "../../src/platform.js";

test("base64url carries any bytes exactly, without padding", () => {
  const bytes = new Uint8Array(256).map((_, i) => i);
  const text = toBase64url(bytes);
  assert.doesNotMatch(text, /[+/=]/);
  assert.deepEqual(fromBase64url(text), bytes);
  assert.equal(toBase64url(new Uint8Array()), "");
});

test("base64url of more than one chunk (32 KiB) reads back", () => {
  const bytes = new Uint8Array(0x8000 * 2 + 3).map((_, i) => i * 7);
  assert.deepEqual(fromBase64url(toBase64url(bytes)), bytes);
});

test("sizes: exact below 1 KiB, binary units with the exact count above, unknown when absent or negative", () => {
  assert.equal(formatSize(0), "0 B");
  assert.equal(formatSize(1023), "1,023 B");
  assert.equal(formatSize(1536), "1.5 KiB (1,536 B)");
  assert.equal(formatSize(5 * 1024 ** 3), "5.0 GiB (5,368,709,120 B)");
  for (const n of [null, undefined, -1]) assert.equal(formatSize(n), "unknown");
});

test("JSON pointers resolve with ~0 and ~1 escapes; absent members are undefined", () => {
  const doc = { "a/b": { "m~n": [10, 20] }, n: null };
  assert.equal(atPointer(doc, ""), doc);
  assert.equal(atPointer(doc, "/a~1b/m~0n/1"), 20);
  assert.equal(atPointer(doc, "/n"), null);
  assert.equal(atPointer(doc, "/n/x"), undefined);
  assert.equal(atPointer(doc, "/missing"), undefined);
});

test("a platform reads as os/arch[/variant] with os.version and features", () => {
  assert.equal(platformText(null), "(none)");
  assert.equal(platformText({ os: "linux", architecture: "arm", variant: "v7" }), "linux/arm/v7");
  assert.equal(platformText({ os: "windows", architecture: "amd64", "os.version": "10.0.17763.1", "os.features": ["win32k"] }),
    "windows/amd64 (os.version 10.0.17763.1) [win32k]");
  assert.equal(platformQuery({ os: "windows", architecture: "amd64", "os.version": "10" }), "windows/amd64");
});

test("the machine's platform is guessed from the user agent; desktops run Linux containers", () => {
  assert.equal(guessPlatform({ userAgent: "Mozilla/5.0 (X11; Linux x86_64)", platform: "Linux x86_64" }), "linux/amd64");
  assert.equal(guessPlatform({ userAgent: "Mozilla/5.0 (Macintosh; arm64)", platform: "MacIntel" }), "linux/arm64");
  assert.equal(guessPlatform({ userAgent: "Mozilla/5.0 (X11; Linux armv7l)", platform: "Linux armv7l" }), "linux/arm/v7");
  assert.equal(guessPlatform({ userAgent: "Mozilla/5.0 (X11; Linux i686)", platform: "Linux i686" }), "linux/386");
  assert.equal(guessPlatform({ userAgent: "", platform: "Win32" }), "linux/amd64");
});
