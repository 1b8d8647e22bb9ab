#!/usr/bin/env bash
# build-core-wasm.sh — build ferry-core for wasm32-unknown-unknown and prove the
# resulting wasm module imports nothing from its host.
#
# Usage: scripts/build-core-wasm.sh            (from anywhere)
#
# What it does
#   1. scripts/install-deps.sh wasm  (Debian rustc-web/cargo-web 1.96, rust-web-src,
#      lld-22, wabt; a no-op when they are present).
#   2. Builds the package `ferry-core` (core/) for wasm32-unknown-unknown with
#      Debian's toolchain and -Zbuild-std, in target dir target/wasm32.
#   3. ferry-core is a no_std rlib, which is not a wasm module. So the script
#      generates a throwaway std cdylib, target/wasm32/core-probe/, that depends
#      on ferry-core by path and exports `extern "C"` functions (ptr/len in)
#      calling into core, builds it the same way, and runs `wasm-objdump -x` on
#      the .wasm: any Import entry is an error (listed), and the probe's exports
#      must be present.
#   Output: target/wasm32/wasm32-unknown-unknown/<profile>/ferry_core_wasm_probe.wasm
#
# Why this toolchain recipe
#   rustup's stable (1.95) cannot fetch the wasm32 target here (no network
#   beyond package registries), and Debian ships no prebuilt wasm32 std for its
#   1.96 compiler. Debian's rustc-web ships the std *source*
#   (rust-web-src -> /usr/lib/rustlib/src/rust/library, incl. Cargo.lock), so we
#   compile std ourselves:
#     RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --release \
#       --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort
#     CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld
#   (rustc's default linker for wasm32 is rust-lld, which Debian does not ship.)
#   RUSTC_BOOTSTRAP=1 is what lets a stable compiler accept -Z flags.
#   wasm32-unknown-unknown defaults to panic=abort, hence `panic_abort` in
#   -Zbuild-std (no RUSTFLAGS / -Cpanic=abort needed).
#
# Toolchain gotchas (checked on Debian 12, rustc-web 1.96.0+dfsg1-1~deb12u2)
#   * Always call /usr/bin/cargo by full path and set RUSTC=/usr/bin/rustc:
#     ~/.cargo/bin (rustup proxies, 1.95) comes first on PATH. /usr/bin/cargo
#     ignores rust-toolchain.toml / RUSTUP_TOOLCHAIN; build scripts and proc
#     macros are compiled for the host by /usr/bin/rustc against Debian's host
#     std (libstd-rust-web-dev), which is fine.
#   * Use a separate target dir (target/wasm32): sharing target/ with rustup's
#     cargo would make each toolchain invalidate the other's fingerprints.
#   * CARGO_HOME can be shared with rustup's cargo (~/.cargo): both versions
#     read and write the same registry cache without trouble.
#   * -Zbuild-std resolves std's own dependencies (compiler_builtins' helpers,
#     hashbrown, dlmalloc, cfg-if, ...) from library/Cargo.lock and downloads
#     them from crates.io into CARGO_HOME on the first build. Debian's copy of
#     library/vendor/ is NOT used by cargo (it would need a source replacement
#     of crates.io, which would hijack ferry-core's own dependencies too).
#     So the first build needs crates.io; afterwards everything is cached and
#     FERRY_WASM_OFFLINE=1 (passes --offline) works.
#   * std on wasm32-unknown-unknown has no host imports as long as nothing
#     reachable calls into the (unsupported) OS layer; an import that shows up
#     is almost always a dependency pulling in wasm-bindgen/js-sys/getrandom
#     ("js" feature) or an `extern "C"` block.
#   * sha2 0.10 (default-features=false) needs no tweak on wasm32: cpufeatures
#     is only used on x86/aarch64/loongarch, wasm32 gets the portable code.
#   * wabt is 1.0.32 (old), but `wasm-objdump -x` reads rustc 1.96 / LLVM 22
#     modules (which use bulk-memory, sign-ext, multivalue, reference-types) fine.
#
# Environment knobs
#   FERRY_WASM_OFFLINE=1     pass --offline to cargo (after a first online build)
#   FERRY_WASM_SKIP_DEPS=1   don't run install-deps.sh
#   FERRY_ROOT=DIR           workspace root (default: parent of this script's dir)
#   FERRY_PROBE_LIB_RS=FILE  use FILE as the probe's lib.rs instead of the generated one
#   FERRY_CORE_FEATURES=a,b  features of ferry-core to enable in the probe
#   FERRY_WASM_PROFILE=NAME  cargo profile (default: release, i.e. --release); e.g.
#                            `wasm` (ferry's size-optimised profile, LTO: slower)
#
# Timings measured on the 2-core machine (crates already in ~/.cargo):
#   cold (empty target/wasm32): ~85-95 s, almost all of it compiling std from
#   source in step 2; the probe then reuses it (~2-9 s). No-op rerun: ~1 s.
#   apt install of the wasm group on a fresh machine: ~30 s.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "${FERRY_ROOT:-$SCRIPT_DIR/..}" && pwd)
CORE_DIR="$ROOT/core"
TARGET=wasm32-unknown-unknown
TARGET_DIR="$ROOT/target/wasm32"
PROBE_DIR="$TARGET_DIR/core-probe"
PROBE_NAME=ferry-core-wasm-probe
PROFILE=${FERRY_WASM_PROFILE:-release}
PROFILE_DIR=$PROFILE; [ "$PROFILE" = dev ] && PROFILE_DIR=debug
PROBE_WASM="$TARGET_DIR/$TARGET/$PROFILE_DIR/${PROBE_NAME//-/_}.wasm"
WASM_LD=/usr/lib/llvm-22/bin/wasm-ld

log() { printf '[build-core-wasm] %s\n' "$*" >&2; }
die() { printf '[build-core-wasm] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

t_all=$(now)

# --- 1. toolchain -----------------------------------------------------------
if [ "${FERRY_WASM_SKIP_DEPS:-0}" != 1 ]; then
    "$SCRIPT_DIR/install-deps.sh" wasm
fi
for f in /usr/bin/rustc /usr/bin/cargo "$WASM_LD"; do
    [ -x "$f" ] || die "$f not found; run scripts/install-deps.sh wasm"
done
command -v wasm-objdump >/dev/null || die "wasm-objdump not found; run scripts/install-deps.sh wasm"
[ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ] \
    || die "std source missing (rust-web-src); run scripts/install-deps.sh wasm"
[ -f "$CORE_DIR/Cargo.toml" ] || die "$CORE_DIR/Cargo.toml not found"

# Debian toolchain environment. Unset anything that would route rustc through
# rustup or a wrapper, or leak native-only flags into the wasm build.
unset RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_RUSTC_WRAPPER \
      RUSTUP_TOOLCHAIN RUSTDOC CARGO_BUILD_TARGET RUSTFLAGS CARGO_ENCODED_RUSTFLAGS \
      CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
export RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LD"
CARGO=/usr/bin/cargo
cargo_args=(build --profile "$PROFILE" --target "$TARGET" "-Zbuild-std=std,panic_abort" --target-dir "$TARGET_DIR")
if [ "${FERRY_WASM_OFFLINE:-0}" = 1 ]; then cargo_args+=(--offline); fi

log "toolchain: $($RUSTC --version), $($CARGO --version), wasm-ld $("$WASM_LD" --version | sed -n 's/.*LLD \([0-9.]*\).*/\1/p')"

# --- 2. ferry-core itself, inside the workspace (its Cargo.lock, its profile) --
t=$(now)
log "building ferry-core for $TARGET (target dir ${TARGET_DIR#"$ROOT"/})"
(cd "$ROOT" && "$CARGO" "${cargo_args[@]}" -p ferry-core) \
    || die "cargo build -p ferry-core --target $TARGET failed"
log "timing: ferry-core rlib build $(elapsed "$t")"

# --- 3. probe cdylib ----------------------------------------------------------
mkdir -p "$PROBE_DIR"
features_toml=""
if [ -n "${FERRY_CORE_FEATURES:-}" ]; then
    features_toml=", features = [$(printf '%s' "$FERRY_CORE_FEATURES" | sed 's/[^,][^,]*/"&"/g; s/,/, /g')]"
fi
cat > "$PROBE_DIR/Cargo.toml.new" <<EOF
# GENERATED by scripts/build-core-wasm.sh on every run — do not edit.
[package]
name = "$PROBE_NAME"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]
path = "lib.rs"

[dependencies]
ferry-core = { path = "$CORE_DIR"$features_toml }

# Own workspace root: keeps the probe out of ferry's workspace.
[workspace]
EOF
# Mirror the workspace's [profile.*] tables: std (-Zbuild-std) and ferry-core's
# dependencies are then compiled with identical settings in steps 2 and 3 and
# cargo reuses them from target/wasm32 (a different profile = std built twice,
# ~90 s more on 2 cores). wasm32-unknown-unknown defaults to panic=abort; a
# workspace `panic = "unwind"` in [profile.release] would not work with
# -Zbuild-std=std,panic_abort.
profile_toml=$(/usr/bin/python3 - "$ROOT/Cargo.toml" <<'PY' || true
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    profiles = tomllib.load(f).get("profile") or {}
def val(v):
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, (int, float)): return repr(v)
    if isinstance(v, str): return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list): return "[" + ", ".join(val(x) for x in v) + "]"
    if isinstance(v, dict): return "{ " + ", ".join(f'"{k}" = {val(x)}' for k, x in v.items()) + " }"
    raise TypeError(type(v))
def emit(path, table):
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    print("[" + ".".join(f'"{p}"' for p in path) + "]")
    for k, v in scalars.items(): print(f'"{k}" = {val(v)}')
    for k, v in table.items():
        if isinstance(v, dict): emit(path + [k], v)
for name, table in profiles.items():
    emit(["profile", name], table)
PY
)
if [ -n "$profile_toml" ]; then
    printf '\n# Mirrored from %s\n%s\n' "$ROOT/Cargo.toml" "$profile_toml" >> "$PROBE_DIR/Cargo.toml.new"
fi

if [ -n "${FERRY_PROBE_LIB_RS:-}" ]; then
    cp "$FERRY_PROBE_LIB_RS" "$PROBE_DIR/lib.rs.new"
else
cat > "$PROBE_DIR/lib.rs.new" <<'EOF'
//! GENERATED by scripts/build-core-wasm.sh on every run — do not edit here.
//! A throwaway cdylib whose only job is to pull ferry-core's code into a wasm
//! module so that its imports can be inspected. Built with std
//! (-Zbuild-std=std,panic_abort), so no global allocator / panic handler needed.
use std::hint::black_box;

fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the host passes a buffer it obtained from ferry_probe_alloc.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Host-side helper: allocate `len` bytes in linear memory for an input.
#[no_mangle]
pub extern "C" fn ferry_probe_alloc(len: usize) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(len);
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}

/// Host-side helper: free a buffer from ferry_probe_alloc.
///
/// # Safety
/// `ptr`/`len` must come from `ferry_probe_alloc(len)`.
#[no_mangle]
pub unsafe extern "C" fn ferry_probe_free(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        drop(Vec::from_raw_parts(ptr, 0, len));
    }
}

// ===================== FERRY-CORE ENTRY POINTS =====================
// Edit here (in scripts/build-core-wasm.sh) when ferry-core's API changes.
// Each export calls one core function on (ptr, len) bytes and black_boxes the
// result, so the code cannot be optimised away whatever the return type is.
// Exports are checked by name after the build (PROBE_EXPORTS in the script).

#[no_mangle]
pub extern "C" fn ferry_probe_digest(ptr: *const u8, len: usize) -> u32 {
    let r = ferry_core::digest::Digest::sha256_of(black_box(input(ptr, len)));
    black_box(&r);
    0
}

#[no_mangle]
pub extern "C" fn ferry_probe_digest_parse(ptr: *const u8, len: usize) -> u32 {
    let Ok(text) = std::str::from_utf8(black_box(input(ptr, len))) else { return 1 };
    let r = ferry_core::digest::Digest::parse(text);
    black_box(&r);
    0
}

#[no_mangle]
pub extern "C" fn ferry_probe_media_type(ptr: *const u8, len: usize) -> u32 {
    let r = ferry_core::manifest::guess_media_type(black_box(input(ptr, len)));
    black_box(&r);
    0
}

#[no_mangle]
pub extern "C" fn ferry_probe_validate(ptr: *const u8, len: usize) -> u32 {
    let r = ferry_core::validate::validate(black_box(input(ptr, len)));
    black_box(&r);
    0
}

#[no_mangle]
pub extern "C" fn ferry_probe_tar(ptr: *const u8, len: usize) -> u32 {
    let bytes = black_box(input(ptr, len));
    black_box(&ferry_core::tar::sniff(bytes));
    let Ok(name) = std::str::from_utf8(bytes) else { return 1 };
    black_box(&ferry_core::tar::classify(name));
    let member = ferry_core::tar::Member { name, typeflag: b'2', link: name };
    black_box(&ferry_core::tar::files(&[member]));
    0
}
// =================== END FERRY-CORE ENTRY POINTS ===================
EOF
fi
PROBE_EXPORTS=(ferry_probe_alloc ferry_probe_free ferry_probe_digest ferry_probe_digest_parse
               ferry_probe_media_type ferry_probe_validate ferry_probe_tar)

# Replace files only when they changed, so cargo's fingerprints stay valid.
for f in Cargo.toml lib.rs; do
    if cmp -s "$PROBE_DIR/$f.new" "$PROBE_DIR/$f"; then rm -f "$PROBE_DIR/$f.new"
    else mv -f "$PROBE_DIR/$f.new" "$PROBE_DIR/$f"; fi
done
# Seed the probe's lock from the workspace's so it uses the same dependency
# versions (cargo drops the unused entries and adds the probe itself).
if [ -f "$ROOT/Cargo.lock" ] && [ "$ROOT/Cargo.lock" -nt "$PROBE_DIR/Cargo.lock" ]; then
    cp "$ROOT/Cargo.lock" "$PROBE_DIR/Cargo.lock"
fi

t=$(now)
log "building probe cdylib (${PROBE_DIR#"$ROOT"/})"
(cd "$PROBE_DIR" && "$CARGO" "${cargo_args[@]}") || die "probe cdylib build failed"
[ -f "$PROBE_WASM" ] || die "expected $PROBE_WASM after build"
log "timing: probe cdylib build $(elapsed "$t")"

# --- 4. inspect the module ------------------------------------------------------
dump=$(wasm-objdump -x "$PROBE_WASM") || die "wasm-objdump -x failed on $PROBE_WASM"

# The Import section is only present when there are imports; its entries look
# like ' - func[0] sig=1 <foo> <- env.foo'.
imports=$(printf '%s\n' "$dump" | awk '/^Import\[/ {s=1; next} /^[A-Z][A-Za-z]*\[/ {s=0} s && /^ - /')
if [ -n "$imports" ]; then
    n=$(printf '%s\n' "$imports" | wc -l)
    printf '[build-core-wasm] ERROR: %s has %d import(s); ferry-core must not need anything from the wasm host:\n%s\n' \
        "$PROBE_WASM" "$n" "$imports" >&2
    printf '[build-core-wasm] (look for wasm-bindgen/js-sys, getrandom "js"/"wasm_js", or extern "C" blocks in the dependency tree: cd %s && RUSTC=/usr/bin/rustc /usr/bin/cargo tree --target %s -e normal -i <crate>)\n' \
        "$PROBE_DIR" "$TARGET" >&2
    exit 1
fi

exports=$(printf '%s\n' "$dump" | awk '/^Export\[/ {s=1; next} /^[A-Z][A-Za-z]*\[/ {s=0} s && /^ - /')
missing=()
for e in "${PROBE_EXPORTS[@]}"; do
    printf '%s\n' "$exports" | grep -q -- "-> \"$e\"" || missing+=("$e")
done
if [ -z "${FERRY_PROBE_LIB_RS:-}" ] && [ "${#missing[@]}" -gt 0 ]; then
    die "probe module lacks expected exports: ${missing[*]}"
fi

size=$(stat -c %s "$PROBE_WASM")
log "OK: ${PROBE_WASM#"$ROOT"/} ($size bytes): 0 imports, $(printf '%s\n' "$exports" | grep -c . || true) exports"
log "timing: total $(elapsed "$t_all")"
