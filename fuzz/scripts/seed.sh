#!/usr/bin/env bash
# seed.sh — seed every fuzz target's corpus from the conformance cases.
#
# Usage: fuzz/scripts/seed.sh [OUT_DIR]   (default: fuzz/seeds)
#
# Copies each manifest of tests/conformance (FERRY_CONFORMANCE_DIR
# overrides it) into OUT_DIR/<target>/, as it is for the targets that read a
# bare document and behind a header for the ones that read one (see
# fuzz/src/lib.rs: HEADER \n DOCUMENT). scripts/fuzz.sh runs it once and
# fuzzes with the seeds beside the committed corpus (fuzz/corpus/), which
# holds only what fuzzing found beyond them.
set -euo pipefail
fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
conformance="${FERRY_CONFORMANCE_DIR:-$fuzz/../tests/conformance}"
out="${1:-$fuzz/seeds}"
[ -d "$conformance" ] || { echo "seed.sh: no conformance cases at $conformance" >&2; exit 2; }

targets=(json parse digest validate choose convert plan api)
for t in "${targets[@]}"; do mkdir -p "$out/$t"; done

# Headers for the targets that read one: a few platforms for choose and
# plan (the plan header's first five bytes are flags, destination types,
# --format, reported type and choose options), each API operation with
# typical arguments.
choose_headers=(
    '\x00linux/amd64' '\x00linux/arm64/v8' '\x00linux/arm/v6' '\x02linux/amd64/v3'
    '\x04windows/amd64//10.0.17763.1' '\x08linux/riscv64' '\x01plan9/mips64'
)
plan_headers=(
    '\x00\x00\x00\x00\x00linux/amd64' '\x01\x00\x00\x00\x00' '\x05\x30\x00\x00\x00linux/arm64'
    '\x01\x08\x02\x00\x10' '\x31\x00\x00\x00\x20' '\x81\x00\x00\x00\x00'
)
api_headers=(
    '\x00' '\x01' '\x02{"mediaType":"application/vnd.oci.image.index.v1+json"}' '\x03'
    '\x04{"platform":"linux/arm64/v8","options":{"amd64Levels":true}}'
    '\x05{"to":"docker-list","options":{"defaultPlatform":"linux/amd64"}}'
    '\x05{"to":"oci-index"}'
    '\x06{"options":{"format":"application/vnd.oci.image.manifest.v1+json","destination":{"supportedTypes":["application/vnd.docker.distribution.manifest.v2+json"]}}}'
)

n=0
while IFS= read -r -d '' file; do
    name="$(basename "$(dirname "$file")")-$(basename "$file" .json)"
    for t in json parse digest validate convert; do cp "$file" "$out/$t/$name"; done
    for h in "${choose_headers[@]}"; do
        { printf "$h"; printf '\n'; cat "$file"; } > "$out/choose/$name-$(printf '%s' "$h" | cksum | cut -d' ' -f1)"
    done
    for h in "${plan_headers[@]}"; do
        { printf "$h"; printf '\n'; cat "$file"; } > "$out/plan/$name-$(printf '%s' "$h" | cksum | cut -d' ' -f1)"
    done
    for h in "${api_headers[@]}"; do
        { printf "$h"; printf '\n'; cat "$file"; } > "$out/api/$name-$(printf '%s' "$h" | cksum | cut -d' ' -f1)"
    done
    n=$((n + 1))
done < <(find "$conformance" -name '*.json' ! -name '*.expected.json' -print0 | sort -z)
echo "seed.sh: $n conformance documents into $out" >&2
