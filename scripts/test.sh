#!/usr/bin/env bash
# test.sh — run ferry's whole test suite on this machine, installing what is
# missing first. This is the README's test command; .ci/run calls it.
#
# Steps, each fatal on failure:
#   1. formatting (cargo fmt --check) and lints (clippy -D warnings)
#   2. every Rust test in the workspace (unit, conformance, CLI)
#   3. ferry-core built for wasm32-unknown-unknown, with a check that the
#      module imports nothing from its host (scripts/build-core-wasm.sh)
# At the end it prints one closing line, "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

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

log "ferry-core for wasm32: build and check for host imports"
bash scripts/build-core-wasm.sh
passed=$((passed + 1))

printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
