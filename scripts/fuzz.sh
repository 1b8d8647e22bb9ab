#!/usr/bin/env bash
# fuzz.sh — run every cargo-fuzz target of ferry-core for a bounded time.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60
#   TARGET              default: every target in fuzz/Cargo.toml
# Environment:
#   FERRY_FUZZ_GROW=1   merge what the run found into fuzz/corpus/<target>
#                       (minimised), so the committed corpus grows
#   FERRY_FUZZ_SEED=N   libFuzzer's -seed (scripts/test.sh passes one derived
#                       from the commit); unset, every run explores anew
#
# Installs cargo-fuzz if missing, builds the targets with the nightly
# toolchain (AddressSanitizer), then runs each target in turn: one process,
# -max_total_time=SECONDS, -rss_limit_mb=2048, the dictionary
# fuzz/dict/manifest.dict, on the committed corpus (fuzz/corpus/<target>)
# plus the conformance seeds (fuzz/seeds/<target>, made by
# fuzz/scripts/seed.sh on first use). New inputs go to a scratch corpus under
# fuzz/target/, so a run leaves the repository untouched unless
# FERRY_FUZZ_GROW=1. Any crash, leak, timeout or broken invariant fails the
# script, which prints the artefact (a hexdump) and how to reproduce it.
# The last lines are a table of executions per target and one line:
# "fuzz: N targets passed, M failed, T s".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
shift || true
case "$seconds" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS_PER_TARGET must be a number, got '$seconds'" >&2; exit 2 ;; esac

log() { printf '\n==> %s\n' "$*" >&2; }

if ! cargo +nightly --version > /dev/null 2>&1; then
    echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version > /dev/null 2>&1; then
    log "installing cargo-fuzz"
    # Unoptimised: it only starts cargo, and builds in half the time
    # (28 s against 53 s on the 2-core machine), once per fresh machine.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=0 \
        cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi

if [ ! -d fuzz/seeds ]; then
    log "seeding from the conformance cases (fuzz/seeds, not committed)"
    bash fuzz/scripts/seed.sh fuzz/seeds || echo "fuzz.sh: no seeds; fuzzing from fuzz/corpus only" >&2
fi

log "building ${#targets[@]} fuzz targets (nightly, AddressSanitizer)"
(cd fuzz && cargo +nightly fuzz build -O)

scratch="fuzz/target/corpus-run"
logs="fuzz/target/logs"
mkdir -p "$logs"
passed=0
failed=0
start=$(date +%s)
summary=""
for t in "${targets[@]}"; do
    log "fuzzing $t for ${seconds}s"
    mkdir -p "$scratch/$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/artifacts/$t"
    set +e
    (cd fuzz && cargo +nightly fuzz run -O "$t" "../$scratch/$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -dict=dict/manifest.dict -print_final_stats=1 ${FERRY_FUZZ_SEED:+-seed=$FERRY_FUZZ_SEED}) \
        > "$logs/$t.log" 2>&1
    status=$?
    set -e
    execs=$(awk '/^stat::number_of_executed_units/ { print $2 }' "$logs/$t.log" | tail -1)
    # A log without stats (a build failure, a crash on the first input)
    # must still reach the report below, so no match is not an error.
    cov=$(grep -oE 'cov: [0-9]+' "$logs/$t.log" | tail -1 | cut -d' ' -f2 || true)
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        summary+=$(printf '%-10s %8ss %12s execs  cov %s  ok' "$t" "$seconds" "${execs:-?}" "${cov:-?}")$'\n'
        if [ "${FERRY_FUZZ_GROW:-0}" = 1 ]; then
            # Only the finds that add coverage to the committed corpus.
            fuzz/target/x86_64-unknown-linux-gnu/release/"$t" -merge=1 -rss_limit_mb=2048 \
                "fuzz/corpus/$t" "$scratch/$t" > "$logs/$t.merge.log" 2>&1
        fi
    else
        failed=$((failed + 1))
        summary+=$(printf '%-10s %8ss %12s execs  cov %s  FAILED (exit %s)' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "$status")$'\n'
        echo "fuzz.sh: $t failed; the end of its log ($logs/$t.log):" >&2
        grep -vE '^#[0-9]+' "$logs/$t.log" | tail -60 >&2
        artefact=$(grep -oE 'Test unit written to [^ ]+' "$logs/$t.log" | tail -1 | cut -d' ' -f5 || true)
        if [ -n "$artefact" ]; then
            [ -f "$artefact" ] || artefact="fuzz/$artefact"
            echo "fuzz.sh: artefact $artefact ($(wc -c < "$artefact") bytes):" >&2
            od -A d -c "$artefact" | head -40 >&2
            echo "fuzz.sh: reproduce with: (cd fuzz && cargo +nightly fuzz run $t ${artefact#fuzz/})" >&2
        fi
    fi
done
elapsed=$(( $(date +%s) - start ))
printf '\n%s' "$summary"
printf 'fuzz: %s targets passed, %s failed, %s s\n' "$passed" "$failed" "$elapsed"
[ "$failed" -eq 0 ]
