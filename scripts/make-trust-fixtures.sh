#!/usr/bin/env bash
# make-trust-fixtures.sh — regenerate native/tests/fixtures/trust/: OpenPGP
# test keys made with Debian's GnuPG and simple-signing signatures made by
# skopeo (containers/image through gpgme), the interoperability peers of
# ferry's OpenPGP code (native/src/trust/openpgp.rs, gpg.rs).
#
# Usage: bash scripts/make-trust-fixtures.sh
#
# Everything happens in a temporary GNUPGHOME, removed (and its gpg-agent
# stopped) on exit; ~/.gnupg is never read or written. Keys are fresh on
# every run, so the signatures and fingerprints change together; the tests
# read the fingerprints from `fingerprints`.
#
# Keys are dated 2020-01-01 (gpg --faked-system-time) so that the expired
# and short-lived material has fixed dates; see README.md in the output.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/native/tests/fixtures/trust"
reference="registry.example/ferry/test:v1"
passphrase="ferry test passphrase"
created="20200101T000000!"

for tool in gpg gpgconf skopeo python3; do
    command -v "$tool" >/dev/null || { echo "make-trust-fixtures: $tool is missing" >&2; exit 1; }
done

GNUPGHOME=$(mktemp -d /tmp/ferry-trust-gnupg.XXXXXX)
export GNUPGHOME
cleanup() {
    gpgconf --kill all 2>/dev/null || true
    rm -rf "$GNUPGHOME"
}
trap cleanup EXIT
chmod 700 "$GNUPGHOME"

mkdir -p "$out"
rm -f "$out"/*.asc "$out"/*.gpg "$out"/*.signature "$out"/*.payload "$out"/fingerprints

g() { gpg --batch --no-tty --quiet "$@"; }

# gen NAME ALGO USAGE EXPIRE [PASSPHRASE]: a key whose user ID names it,
# created at $created; prints its fingerprint.
gen() {
    local name=$1 algo=$2 usage=$3 expire=$4 pass=${5:-}
    g --faked-system-time "$created" --pinentry-mode loopback --passphrase "$pass" \
        --quick-gen-key "ferry $name <$name@ferry.invalid>" "$algo" "$usage" "$expire" 2>/dev/null
    g --with-colons --list-keys "<$name@ferry.invalid>" | awk -F: '$1 == "fpr" { print $10; exit }'
}

# export NAME FPR [PASSPHRASE]: public keys armored and binary, the secret
# key armored.
export_key() {
    local name=$1 fpr=$2 pass=${3:-}
    g --armor --export "$fpr" >"$out/$name.pub.asc"
    g --export "$fpr" >"$out/$name.pub.gpg"
    g --pinentry-mode loopback --passphrase "$pass" --armor --export-secret-keys "$fpr" >"$out/$name.sec.asc"
}

# with_conf LINES... -- COMMAND: run COMMAND with gpg.conf holding LINES
# (skopeo's gpgme runs gpg, which reads it).
with_conf() {
    : >"$GNUPGHOME/gpg.conf"
    while [ "$1" != "--" ]; do echo "$1" >>"$GNUPGHOME/gpg.conf"; shift; done
    shift
    "$@"
    rm -f "$GNUPGHOME/gpg.conf"
}

sign() { # MANIFEST FPR OUTPUT [skopeo options]
    local manifest=$1 fpr=$2 output=$3
    shift 3
    skopeo standalone-sign "$@" "$out/$manifest" "$reference" "$fpr" --output "$out/$output"
}

# What gpg says a signature signs: the payload skopeo made.
payload() { g --decrypt "$out/$1" >"$out/${1%.signature}.payload" 2>/dev/null; }

cp "$here/native/tests/fixtures/v2s2.json" "$out/schema2.json"
cp "$here/native/tests/fixtures/v2s1-signed.json" "$out/schema1-signed.json"

main=$(gen main ed25519 sign never)
pass=$(gen passphrase rsa2048 sign never "$passphrase")
expired=$(gen expired ed25519 sign 1d)
other=$(gen other ed25519 sign never)
revoked=$(gen revoked ed25519 sign never)
# A certification-only primary key with a signing subkey: gpg signs with
# the subkey when given the primary's fingerprint.
subkey=$(gen subkey ed25519 cert never)
g --faked-system-time "$created" --pinentry-mode loopback --passphrase "" --quick-add-key "$subkey" ed25519 sign never

printf '%s\n' "$passphrase" >"$out/passphrase.txt"

sign schema2.json "$main" schema2.signature
sign schema1-signed.json "$main" schema1.signature
sign schema2.json "$pass" schema2-passphrase.signature --passphrase-file "$out/passphrase.txt"
sign schema2.json "$other" schema2-other.signature
sign schema2.json "$subkey" schema2-subkey.signature
sign schema2.json "$revoked" schema2-revoked.signature
# The expired key, while it was valid (2020-01-01 12:00).
with_conf "faked-system-time 20200101T120000!" -- sign schema2.json "$expired" schema2-expired-key.signature
# A signature that itself expired a day after it was made (2020-06-01).
with_conf "faked-system-time 20200601T000000!" "default-sig-expire 1d" -- \
    sign schema2.json "$main" schema2-expired-signature.signature
# No compression packet: the payload is in the clear, for the tampered copy.
with_conf "compress-level 0" -- sign schema2.json "$main" schema2-uncompressed.signature
for s in schema2 schema1 schema2-uncompressed; do payload "$s.signature"; done

# The tampered copy: one hex digit of the signed manifest digest changed,
# the packet structure and the signature packet untouched.
python3 - "$out/schema2-uncompressed.signature" "$out/schema2-tampered.signature" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
marker = b'"docker-manifest-digest":"sha256:'
at = data.index(marker) + len(marker)
data[at] = ord("0") if data[at] != ord("0") else ord("1")
open(sys.argv[2], "wb").write(bytes(data))
EOF

# Two signers in one message (gpg -u A -u B), over the payload skopeo made.
g --local-user "$main" --local-user "$other" --output "$out/schema2-two-signers.signature" \
    --sign "$out/schema2.payload"

# Revoke the revoked key after it signed: gpg wrote a revocation
# certificate when it made the key; its armor line is prefixed with ':' so
# that it is not imported by accident.
sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$revoked.rev" | g --import 2>/dev/null

export_key main "$main"
export_key passphrase "$pass" "$passphrase"
export_key expired "$expired"
export_key other "$other"
export_key revoked "$revoked"
export_key subkey "$subkey"

subkey_signing=$(g --with-colons --list-keys "$subkey" | awk -F: '$1 == "fpr" { n++ } $1 == "fpr" && n == 2 { print $10 }')
cat >"$out/fingerprints" <<EOF
main $main
passphrase $pass
expired $expired
other $other
revoked $revoked
subkey $subkey
subkey-signing $subkey_signing
EOF

echo "make-trust-fixtures: wrote $out"
ls -l "$out"
