#!/usr/bin/env bash
# build-wasm-pkg.sh — build the npm package of ferry-wasm into wasm/pkg/.
#
# Usage: scripts/build-wasm-pkg.sh            (from anywhere)
#
# What it does
#   1. Installs what is missing:
#      - Debian's wasm toolchain (scripts/install-deps.sh wasm: rustc-web,
#        cargo-web, rust-web-src, lld-22, wabt);
#      - wasm-bindgen-cli at exactly the version Cargo.lock records for the
#        wasm-bindgen crate (the two must agree), with rustup's cargo into
#        ~/.cargo/bin (`--locked` first, without it if the CLI's own lockfile
#        names a version crates.io no longer offers);
#      - binaryen's wasm-opt from npm (binaryen@$BINARYEN_VERSION, into
#        target/wasm-tools/; Debian's binaryen 108 predates the features
#        LLVM 22 emits by default). FERRY_WASM_OPT=/path/to/wasm-opt overrides.
#   2. Builds the ferry-wasm cdylib for wasm32-unknown-unknown with Debian's
#      toolchain and -Zbuild-std, profile `wasm` (opt-level z, fat LTO), in
#      target/wasm32 (see scripts/build-core-wasm.sh for why this recipe).
#   3. Runs wasm-bindgen twice: --target web (ES module; the .wasm stays its
#      own file, fetched or imported, never inlined as base64) and
#      --target nodejs (CommonJS, reads the .wasm with fs).
#   4. wasm-opt -Oz --converge --low-memory-unused on both modules; prints
#      raw and gzipped sizes and fails if a module is over 250 KiB (issue 7;
#      see DEVELOPERS.md, "The npm module's size").
#   5. Assembles wasm/pkg/ (gitignored) as an npm package:
#        web/        wasm-bindgen's web build (default export: async init)
#        web/index.js     ES module that initialises itself (top-level await)
#        node/       wasm-bindgen's nodejs build (CommonJS)
#        workerd/index.js initialises synchronously from an imported
#                    WebAssembly.Module (`import m from "../web/…_bg.wasm"`),
#                    as Cloudflare Workers / workerd require: edge runtimes
#                    refuse to compile wasm from bytes at run time.
#        ferry_wasm.d.ts  the functions and result interfaces
#      package.json `exports` routes workerd/worker → workerd/, node → node/,
#      browser/import/default → web/index.js; `./web` is the raw web build
#      for callers that want to choose where the .wasm comes from.
#   6. Builds wasm/layer (the browser inspector's layer module: ruzstd's
#      zstd decoder, ferry-core's layer stacking and filesystem comparison
#      behind a C ABI, loaded only for a zstd layer, an image's filesystem
#      or a comparison, so it stays out of
#      the npm .wasm and its budget) the same way, checks that it imports
#      nothing, runs wasm-opt and writes wasm/pkg/layer/ferry_layer.wasm
#      (not in the npm package's files). FERRY_WASM_LAYER=0 skips it.
#   7. Builds wasm/cabi (ferry-api's JSON facade behind a C ABI, for wasm
#      hosts without JavaScript such as wasmtime) the same way, checks that it
#      imports nothing, runs wasm-opt and writes target/wasm32/ferry_core_cabi.wasm.
#      FERRY_WASM_CABI=0 skips it.
#
# Environment knobs
#   FERRY_WASM_OFFLINE=1     pass --offline to cargo (after a first online build)
#   FERRY_WASM_SKIP_DEPS=1   don't install anything (fail if a tool is missing)
#   FERRY_WASM_OPT=PATH      use this wasm-opt instead of npm's binaryen
#   FERRY_WASM_MAX_KIB=N     size limit per .wasm after wasm-opt (default 250)
#   FERRY_WASM_LAYER=0       don't build the inspector's layer module (step 6)
#   FERRY_WASM_CABI=0        don't build the C-ABI module (step 7)
#
# Timings on the 2-core machine: cold (std compiled from source, fat LTO)
# about 7 minutes; the wasm-bindgen-cli install under 2 minutes, once;
# a rebuild after a change in ferry-core or ferry-wasm about 1 minute.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
TARGET=wasm32-unknown-unknown
TARGET_DIR="$ROOT/target/wasm32"
PROFILE=wasm
CRATE_WASM="$TARGET_DIR/$TARGET/$PROFILE/ferry_wasm.wasm"
PKG="$ROOT/wasm/pkg"
TOOLS="$ROOT/target/wasm-tools"
BINARYEN_VERSION=132.0.0
MAX_KIB=${FERRY_WASM_MAX_KIB:-250}
WASM_LD=/usr/lib/llvm-22/bin/wasm-ld
# The functions every entry point exports (checked against wasm-bindgen's output).
EXPORTS=(call digest detectMediaType inspect validate chooseInstance convertList planImage planCopy detectArchiveFormat tarFiles layerEntries parseReference)

log() { printf '[build-wasm-pkg] %s\n' "$*" >&2; }
die() { printf '[build-wasm-pkg] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

t_all=$(now)
skip_deps=${FERRY_WASM_SKIP_DEPS:-0}

# --- 1. tools -----------------------------------------------------------------
if [ "$skip_deps" != 1 ]; then
    "$SCRIPT_DIR/install-deps.sh" wasm
fi
for f in /usr/bin/rustc /usr/bin/cargo "$WASM_LD"; do
    [ -x "$f" ] || die "$f not found; run scripts/install-deps.sh wasm"
done
command -v node >/dev/null || die "node not found"

# wasm-bindgen-cli: the version of the wasm-bindgen crate in Cargo.lock.
WBG_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")
[ -n "$WBG_VERSION" ] || die "no wasm-bindgen in $ROOT/Cargo.lock (run cargo metadata/build once)"
WASM_BINDGEN="$HOME/.cargo/bin/wasm-bindgen"
have_wbg=$("$WASM_BINDGEN" --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_wbg" != "$WBG_VERSION" ]; then
    [ "$skip_deps" != 1 ] || die "wasm-bindgen $WBG_VERSION needed (found: ${have_wbg:-none})"
    log "installing wasm-bindgen-cli $WBG_VERSION (found: ${have_wbg:-none}); takes a minute or two"
    t=$(now)
    # rustup's cargo, for the host; nothing of Debian's wasm toolchain.
    # Unoptimised and without TLS (only its test runner downloads
    # anything): it builds in 77 s instead of about 5 minutes on the
    # 2-core machine, and writes the same files in 0.6 s instead of 0.1 s.
    (
        unset RUSTC RUSTC_BOOTSTRAP CARGO_TARGET_DIR
        export CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=0
        install=("$HOME/.cargo/bin/cargo" install --quiet wasm-bindgen-cli
                 --version "=$WBG_VERSION" --no-default-features)
        "${install[@]}" --locked \
            || { log "--locked failed (a locked dependency is gone from crates.io); retrying without it"
                 "${install[@]}"; }
    ) || die "cargo install wasm-bindgen-cli $WBG_VERSION failed"
    log "timing: wasm-bindgen-cli install $(elapsed "$t")"
fi
[ "$("$WASM_BINDGEN" --version | awk '{print $2}')" = "$WBG_VERSION" ] \
    || die "$WASM_BINDGEN is not version $WBG_VERSION"

# wasm-opt: npm's binaryen unless overridden.
if [ -n "${FERRY_WASM_OPT:-}" ]; then
    WASM_OPT=$FERRY_WASM_OPT
else
    WASM_OPT="$TOOLS/node_modules/.bin/wasm-opt"
    have_binaryen=$(node -p "require('$TOOLS/node_modules/binaryen/package.json').version" 2>/dev/null || true)
    if [ "$have_binaryen" != "$BINARYEN_VERSION" ]; then
        [ "$skip_deps" != 1 ] || die "binaryen@$BINARYEN_VERSION needed in $TOOLS (found: ${have_binaryen:-none})"
        log "installing binaryen@$BINARYEN_VERSION from npm into ${TOOLS#"$ROOT"/}"
        mkdir -p "$TOOLS"
        [ -f "$TOOLS/package.json" ] || printf '{ "private": true }\n' > "$TOOLS/package.json"
        npm install --prefix "$TOOLS" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION" \
            || die "npm install binaryen@$BINARYEN_VERSION failed"
    fi
fi
[ -x "$WASM_OPT" ] || die "wasm-opt not found at $WASM_OPT"

# --- 2. the cdylib --------------------------------------------------------------
unset RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_RUSTC_WRAPPER \
      RUSTUP_TOOLCHAIN RUSTDOC CARGO_BUILD_TARGET RUSTFLAGS CARGO_ENCODED_RUSTFLAGS \
      CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
cargo_args=(build --profile "$PROFILE" --target "$TARGET" "-Zbuild-std=std,panic_abort"
            --target-dir "$TARGET_DIR" -p ferry-wasm --lib)
if [ "${FERRY_WASM_OFFLINE:-0}" = 1 ]; then cargo_args+=(--offline); fi
t=$(now)
log "building ferry-wasm for $TARGET, profile $PROFILE ($(/usr/bin/rustc --version))"
# panic=immediate-abort: a panic traps at once instead of formatting a
# message nobody sees (ferry-core reports every failure as an error value, and
# a trap surfaces in JavaScript as a RuntimeError anyway). It drops the panic
# formatting machinery: 19 KB (7%) of the optimised module. Both modules share
# this target directory, so both get the same flags and share one std build.
# sha2_backend_soft="compact": sha2's documented switch to its rolled-up
# round loops (see sha2's README, "Backends"). The unrolled ones are faster
# on large inputs, but the module only hashes manifests, and the compact
# sha256 and sha512 are 16,616 bytes (6%) smaller: 277,158 -> 260,542 bytes
# for the web module after wasm-opt, measured at 6b0257a.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort --cfg sha2_backend_soft=\"compact\""
(cd "$ROOT" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LD" \
    /usr/bin/cargo "${cargo_args[@]}") || die "cargo build -p ferry-wasm --target $TARGET failed"
[ -f "$CRATE_WASM" ] || die "expected $CRATE_WASM after the build"
log "timing: cargo build $(elapsed "$t")"

# --- 3. wasm-bindgen --------------------------------------------------------------
t=$(now)
STAGE="$TARGET_DIR/pkg-stage"
rm -rf "$STAGE"
mkdir -p "$STAGE"
"$WASM_BINDGEN" --target web --out-dir "$STAGE/web" "$CRATE_WASM" || die "wasm-bindgen --target web failed"
"$WASM_BINDGEN" --target nodejs --out-dir "$STAGE/node" "$CRATE_WASM" || die "wasm-bindgen --target nodejs failed"
for name in "${EXPORTS[@]}"; do
    for build in web node; do
        grep -Eq "export function $name\(|exports\.$name = |function $name\(" "$STAGE/$build/ferry_wasm.js" \
            || die "$build build does not export $name"
    done
done
log "timing: wasm-bindgen $(elapsed "$t")"

# --- 4. wasm-opt and sizes -----------------------------------------------------------
t=$(now)
too_big=0
for build in web node; do
    wasm="$STAGE/$build/ferry_wasm_bg.wasm"
    before=$(stat -c %s "$wasm")
    # --converge: -Oz again until nothing shrinks (179 bytes). --low-memory-unused:
    # the module's lowest 1 KiB is never read or written (rustc links wasm32
    # with --stack-first: 0..1 MiB is the stack, growing down from 1 MiB, and
    # the data starts at 1 MiB), so constant offsets fold into loads and
    # stores (2,056 bytes). Measured on the web module at 261,346 bytes.
    "$WASM_OPT" -Oz --converge --low-memory-unused \
        --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
        --strip-debug --strip-producers "$wasm" -o "$wasm.opt" || die "wasm-opt failed on $wasm"
    mv -f "$wasm.opt" "$wasm"
    raw=$(stat -c %s "$wasm")
    gz=$(gzip -9 -c "$wasm" | wc -c)
    log "size: $build/ferry_wasm_bg.wasm $raw bytes ($(( (raw + 1023) / 1024 )) KiB) raw, $gz bytes ($(( (gz + 1023) / 1024 )) KiB) gzipped; $before bytes before wasm-opt"
    if [ "$raw" -gt $((MAX_KIB * 1024)) ]; then
        printf '[build-wasm-pkg] ERROR: %s is %d bytes, over the %d KiB limit\n' "$build/ferry_wasm_bg.wasm" "$raw" "$MAX_KIB" >&2
        too_big=1
    fi
done
[ "$too_big" = 0 ] || exit 1
log "timing: wasm-opt $(elapsed "$t")"

# --- 5. the package ---------------------------------------------------------------------
VERSION=$(awk -F'"' '/^\[workspace.package\]/ { s = 1 } s && /^version/ { print $2; exit }' "$ROOT/Cargo.toml")
rm -f "$STAGE"/*/.gitignore "$STAGE"/*/package.json
# node/ is CommonJS inside a package that is otherwise ES modules.
printf '{ "type": "commonjs" }\n' > "$STAGE/node/package.json"
cp "$STAGE/node/ferry_wasm.d.ts" "$STAGE/ferry_wasm.d.ts"
names=$(IFS=,; printf '%s' "${EXPORTS[*]}" | sed 's/,/, /g')

cat > "$STAGE/web/index.js" <<EOF
// Browsers and ES-module hosts: fetches ferry_wasm_bg.wasm beside this file
// (new URL(…, import.meta.url)) and initialises before the first import
// returns. For another location, use "ferry-wasm/web" and call its default
// export (init) yourself.
import init from "./ferry_wasm.js";

await init();

export { $names } from "./ferry_wasm.js";
EOF

mkdir -p "$STAGE/workerd"
cat > "$STAGE/workerd/index.js" <<EOF
// Cloudflare Workers and workerd: the .wasm is imported as a compiled
// WebAssembly.Module (wrangler and workerd's "wasm" modules do that), and
// instantiated synchronously. Edge runtimes refuse to compile bytes at run
// time, so nothing here fetches or decodes the module.
import module from "../web/ferry_wasm_bg.wasm";
import { initSync } from "../web/ferry_wasm.js";

initSync({ module });

export { $names } from "../web/ferry_wasm.js";
EOF

cat > "$STAGE/README.md" <<EOF
# ferry-wasm

ferry-core compiled to WebAssembly: digest, detect, inspect and validate
container image manifests, choose a platform from a manifest list, convert
between Docker manifest lists and OCI indexes, plan an image copy. The same
code as the native \`ferry\` CLI, with the same answers.

\`\`\`js
import { validate, chooseInstance } from "ferry-wasm";
const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
const report = validate(bytes);          // { valid, diagnostics, … }
const choice = chooseInstance(bytes, "linux/arm64", {});
\`\`\`

Entry points (package.json \`exports\`): Node → \`node/\` (CommonJS, also
importable); workerd / Cloudflare Workers → \`workerd/\` (imports the .wasm as
a module); browsers and other ES-module hosts → \`web/index.js\`
(initialises itself); \`ferry-wasm/web\` → wasm-bindgen's web build with its
\`init\`. Inputs are \`Uint8Array\`; results are plain objects (see
\`ferry_wasm.d.ts\`); failures throw \`Error\` with ferry-core's message.
\`call(op, bytes, argsJson)\` returns the exact JSON text ferry-core answers.

\`planCopy(list, options, instances)\` plans a copy as \`ferry copy --dry-run\`
does, given the images' manifests (digest → text); with
\`{ selection: "all", addCompression: ["zstd"] }\` it plans a zstd twin of
each image, as \`--add-compression zstd\` (the summary's \`zstd-twin\`
manifests, and \`twin: "zstd"\` on their image plans).
EOF

cat > "$STAGE/package.json" <<EOF
{
  "name": "ferry-wasm",
  "version": "$VERSION",
  "description": "ferry-core in WebAssembly: container image manifests (Docker schema 1/2, OCI) parsed, validated, digested and converted as containers/image does",
  "license": "Apache-2.0",
  "type": "module",
  "main": "./node/ferry_wasm.js",
  "module": "./web/index.js",
  "types": "./ferry_wasm.d.ts",
  "exports": {
    ".": {
      "types": "./ferry_wasm.d.ts",
      "workerd": "./workerd/index.js",
      "worker": "./workerd/index.js",
      "node": "./node/ferry_wasm.js",
      "browser": "./web/index.js",
      "import": "./web/index.js",
      "default": "./web/index.js"
    },
    "./web": {
      "types": "./web/ferry_wasm.d.ts",
      "default": "./web/ferry_wasm.js"
    },
    "./ferry_wasm_bg.wasm": "./web/ferry_wasm_bg.wasm",
    "./package.json": "./package.json"
  },
  "files": [
    "ferry_wasm.d.ts",
    "README.md",
    "web/",
    "node/",
    "workerd/"
  ],
  "sideEffects": [
    "./web/index.js",
    "./workerd/index.js",
    "./node/ferry_wasm.js"
  ],
  "engines": { "node": ">=18" }
}
EOF

rm -rf "$PKG"
mv "$STAGE" "$PKG"
node -e "require('$PKG/node/ferry_wasm.js').digest(new TextEncoder().encode('{}'))" \
    || die "the nodejs build does not load"
log "OK: ${PKG#"$ROOT"/} (ferry-wasm $VERSION, wasm-bindgen $WBG_VERSION, $("$WASM_OPT" --version))"

# --- 6. the inspector's layer module ------------------------------------------------------
if [ "${FERRY_WASM_LAYER:-1}" != 0 ]; then
    t=$(now)
    LAYER_DIR="$ROOT/wasm/layer"
    LAYER_OUT="$PKG/layer/ferry_layer.wasm"
    log "building wasm/layer for $TARGET, profile $PROFILE"
    (cd "$LAYER_DIR" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LD" \
        /usr/bin/cargo "${cargo_args[@]/ferry-wasm/ferry-layer-wasm}") || die "cargo build of wasm/layer failed"
    mkdir -p "$PKG/layer"
    "$WASM_OPT" -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
        --strip-debug --strip-producers "$TARGET_DIR/$TARGET/$PROFILE/ferry_layer_wasm.wasm" -o "$LAYER_OUT" \
        || die "wasm-opt failed on the layer module"
    if command -v wasm-objdump >/dev/null; then
        imports=$(wasm-objdump -x "$LAYER_OUT" | awk '/^Import\[/ {s=1; next} /^[A-Z][A-Za-z]*\[/ {s=0} s && /^ - /')
        [ -z "$imports" ] || die "the layer module imports from its host:
$imports"
    fi
    raw=$(stat -c %s "$LAYER_OUT")
    log "size: ${LAYER_OUT#"$ROOT"/} $raw bytes raw, $(gzip -9 -c "$LAYER_OUT" | wc -c) bytes gzipped (loaded only for zstd layers and filesystems; not part of the npm budget)"
    log "timing: layer module $(elapsed "$t")"
fi

# --- 7. the C-ABI module ----------------------------------------------------------------
if [ "${FERRY_WASM_CABI:-1}" != 0 ]; then
    t=$(now)
    CABI_DIR="$ROOT/wasm/cabi"
    CABI_OUT="$TARGET_DIR/ferry_core_cabi.wasm"
    # Its own workspace: seed its lock from ferry's so it uses the same versions.
    cp "$ROOT/Cargo.lock" "$CABI_DIR/Cargo.lock"
    log "building wasm/cabi for $TARGET, profile $PROFILE"
    (cd "$CABI_DIR" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LD" \
        /usr/bin/cargo "${cargo_args[@]/ferry-wasm/ferry-core-cabi}") || die "cargo build of wasm/cabi failed"
    "$WASM_OPT" -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
        --strip-debug --strip-producers "$TARGET_DIR/$TARGET/$PROFILE/ferry_core_cabi.wasm" -o "$CABI_OUT" \
        || die "wasm-opt failed on the C-ABI module"
    if command -v wasm-objdump >/dev/null; then
        imports=$(wasm-objdump -x "$CABI_OUT" | awk '/^Import\[/ {s=1; next} /^[A-Z][A-Za-z]*\[/ {s=0} s && /^ - /')
        [ -z "$imports" ] || die "the C-ABI module imports from its host:
$imports"
    fi
    raw=$(stat -c %s "$CABI_OUT")
    log "size: ${CABI_OUT#"$ROOT"/} $raw bytes raw, $(gzip -9 -c "$CABI_OUT" | wc -c) bytes gzipped; 0 imports"
    log "timing: C-ABI module $(elapsed "$t")"
fi
log "timing: total $(elapsed "$t_all")"
