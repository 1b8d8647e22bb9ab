// zstd layers, decompressed by ferry's own small WebAssembly module
// (wasm/zstd: ruzstd behind a C ABI, built by scripts/build-wasm-pkg.sh
// into pkg/zstd/ferry_zstd.wasm). It is not part of the npm package's
// .wasm: the page fetches and compiles it the first time a zstd layer is
// read, and each stream gets an instance of its own.

/** What `zstd_decode` answers for an input that ended inside a frame, and for corrupt data. */
const TRUNCATED = -1;

/**
 * A loader: `() => Promise<(ReadableStream) => ReadableStream>`, fetching
 * the module's bytes with `getBytes` once (on first use) and compiling them.
 */
export function zstdLoader(getBytes) {
  let compiled = null;
  return async () => {
    compiled ??= Promise.resolve(getBytes()).then((bytes) => WebAssembly.compile(bytes));
    const module = await compiled;
    return (compressed) => decompress(module, compressed);
  };
}

/** The decompressed bytes of a zstd stream, pulled as the reader wants them (at most 256 KiB at a time). */
function decompress(module, compressed) {
  const reader = compressed.getReader();
  let x = null, d = 0, ended = false;
  return new ReadableStream({
    async start() {
      x = (await WebAssembly.instantiate(module, {})).exports;
      d = x.zstd_new();
    },
    async pull(controller) {
      for (;;) {
        const n = x.zstd_decode(d, ended ? 1 : 0);
        if (n > 0) {
          controller.enqueue(new Uint8Array(x.memory.buffer, x.zstd_output(d), n).slice());
          return;
        }
        if (n < 0) {
          await reader.cancel().catch(() => {});
          throw new TypeError(n === TRUNCATED ? "the zstd stream ends inside a frame" : "the data is not zstd, or is corrupt");
        }
        if (ended) {
          x.zstd_free(d);
          controller.close();
          return;
        }
        const r = await reader.read();
        if (r.done) { ended = true; continue; }
        const at = x.zstd_input(d, r.value.length);
        new Uint8Array(x.memory.buffer, at, r.value.length).set(r.value);
      }
    },
    cancel() { return reader.cancel(); },
  }, { highWaterMark: 0 });
}
