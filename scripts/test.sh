#!/usr/bin/env bash
# test.sh — run ferry's whole test suite on this machine, installing what is
# missing first. This is the README's test command; .ci/run calls it.
#
# Steps, each fatal on failure:
#   1. formatting (cargo fmt --check) and lints (clippy -D warnings)
#   2. every Rust test in the workspace (unit, conformance, CLI), then a
#      short pass of every ferry-core fuzz target (scripts/fuzz.sh,
#      FERRY_FUZZ_SECONDS per target, default 30; each target counts as a test)
#   3. ferry-core built for wasm32-unknown-unknown, with a check that the
#      module imports nothing from its host (scripts/build-core-wasm.sh)
#   4. the npm package of ferry-wasm, the inspector's layer module
#      (its Rust tests too) and the C-ABI module
#      (scripts/build-wasm-pkg.sh), then the parity suite: every conformance
#      case through native ferry-core, Node, headless Chromium, workerd and
#      wasmtime must give byte-identical JSON (tests/parity/)
#   5. the browser inspector (web/): its pure modules under node --test
#      (web/tests/unit/), and the page in headless Chromium: served as static
#      files (web/tests/inspector.test.mjs), and by `ferry serve` (the debug
#      binary step 2 built) in front of Debian's docker-registry
#      (web/tests/serve.test.mjs)
# At the end it prints one closing line, "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each step names itself and the disk left, so that a machine running out
# of space shows where it went.
log() { printf '\n==> %s (disk: %s free)\n' "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')" >&2; }

# Random test inputs (proptest cases, libFuzzer's mutations, the kill delays
# of native/tests/interrupted.rs, the fault offsets of registry_faults.rs)
# are seeded from the commit: a failure can be replayed from its commit, and
# what a run explores changes only with the code. (Kills and faults still
# land wherever the machine's timing puts them.) Set any of the variables to
# explore other inputs.
commit_seed=$(( 16#$(git rev-parse --short=8 HEAD 2>/dev/null || echo 1) ))
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-$commit_seed}"
export FERRY_FUZZ_SEED="${FERRY_FUZZ_SEED:-$commit_seed}"
export FERRY_TEST_SEED="${FERRY_TEST_SEED:-$commit_seed}"
export FERRY_FAULT_SEED="${FERRY_FAULT_SEED:-$commit_seed}"
printf 'random inputs: PROPTEST_RNG_SEED=%s FERRY_FUZZ_SEED=%s FERRY_TEST_SEED=%s FERRY_FAULT_SEED=%s\n' \
    "$PROPTEST_RNG_SEED" "$FERRY_FUZZ_SEED" "$FERRY_TEST_SEED" "$FERRY_FAULT_SEED" >&2

# ferry's CLI keeps a blob info cache under ~/.cache; the suite must not
# read or write the user's (tests that exercise the cache name their own).
export FERRY_BLOB_INFO_CACHE="${FERRY_BLOB_INFO_CACHE:-off}"

log "installing what is missing"
bash scripts/install-deps.sh wasm services

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "cargo test --workspace"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$results"
status=${PIPESTATUS[0]}
set -e
passed=$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ /^passed/) n += $i } END { print n + 0 }' "$results")
failed=$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ /^failed/) n += $i } END { print n + 0 }' "$results")
if [ "$status" -ne 0 ]; then
    printf 'tests: %s passed, %s failed\n' "${passed:-0}" "${failed:-1}"
    exit "$status"
fi

log "fuzzing ferry-core: each target for ${FERRY_FUZZ_SECONDS:-30}s"
set +e
bash scripts/fuzz.sh "${FERRY_FUZZ_SECONDS:-30}" 2>&1 | tee "$results"
status=${PIPESTATUS[0]}
set -e
fuzz_passed=$(awk '/^fuzz: / { n = $2 } END { print n + 0 }' "$results")
fuzz_failed=$(awk '/^fuzz: / { n = $5 } END { print n + 0 }' "$results")
passed=$((passed + fuzz_passed))
failed=$((failed + fuzz_failed))
if [ "$status" -ne 0 ]; then
    printf 'tests: %s passed, %s failed\n' "$passed" "$((failed > 0 ? failed : 1))"
    exit "$status"
fi

log "ferry-core for wasm32: build and check for host imports"
bash scripts/build-core-wasm.sh
passed=$((passed + 1))

log "ferry-wasm: npm package (wasm-bindgen, wasm-opt, size limit) and C-ABI module"
bash scripts/install-deps.sh browser
bash scripts/build-wasm-pkg.sh

log "wasm/layer: the inspector's layer module (zstd, layer stacking, comparing), its Rust tests natively"
(cd wasm/layer && CARGO_TARGET_DIR="$PWD/../../target/layer-host" cargo test --quiet)
passed=$((passed + 1))

log "parity: native ferry-core vs Node, Chromium, workerd, wasmtime; npm pack"
(cd tests/parity && npm ci --no-audit --no-fund --loglevel=error)
cargo run -q -p ferry-tests --bin parity > target/parity-native.jsonl
set +e
FERRY_PARITY_NATIVE="$PWD/target/parity-native.jsonl" \
FERRY_WASMTIME_TARGET_DIR="$HOME/.cache/ferry/wasmtime-runner" \
    node --test --test-concurrency=1 tests/parity/ 2>&1 | tee "$results"
status=${PIPESTATUS[0]}
set -e
passed=$((passed + $(awk '/^# pass / { print $3 }' "$results")))
failed=$((failed + $(awk '/^# fail / { print $3 }' "$results")))
if [ "$status" -ne 0 ]; then
    printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
    exit "$status"
fi

log "web inspector: its modules under node --test, the page in headless Chromium against the conformance cases"
(cd web && npm ci --no-audit --no-fund --loglevel=error)
set +e
node --test --test-concurrency=1 web/tests/ 2>&1 | tee "$results"
status=${PIPESTATUS[0]}
set -e
passed=$((passed + $(awk '/^# pass / { print $3 }' "$results")))
failed=$((failed + $(awk '/^# fail / { print $3 }' "$results")))
if [ "$status" -ne 0 ]; then
    printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
    exit "$status"
fi

printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
