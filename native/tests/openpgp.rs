//! OpenPGP simple signing against its peers: signatures made by skopeo
//! 1.9.3 (containers/image through gpgme) verified in process, signatures
//! made through gpg verified in process and by `skopeo standalone-verify`,
//! containers/image's own mechanism fixtures, and hostile input.
//!
//! Fixtures: `fixtures/trust/` (made by `scripts/make-trust-fixtures.sh`,
//! see its README) and `fixtures/trust/containers-image/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use ferry::trust::gpg::{Gpg, GpgError};
use ferry::trust::openpgp::{
    KeyError, Keyring, MAX_DECOMPRESSED_SIZE, MAX_KEY_FILE_SIZE, MAX_SIGNATURE_SIZE, VerifyError,
    read_unverified, unix_time,
};

// Each test file uses part of the shared rule.
#[allow(dead_code)]
#[path = "../../tests/src/skopeo.rs"]
mod skopeo_check;

/// 2027-01-01T00:00:00Z: after every fixture signature was made, long after
/// the expired key and the expired signature expired.
const NOW: u64 = 1_798_761_600;
/// The reference every fixture signature names.
const REFERENCE: &str = "registry.example/ferry/test:v1";

fn now() -> SystemTime {
    unix_time(NOW)
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trust")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A key's fingerprint, as `fixtures/trust/fingerprints` records it.
fn fingerprint(name: &str) -> String {
    String::from_utf8(fixture("fingerprints"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no fingerprint for {name}"))
        .to_string()
}

fn keyring(files: &[&str]) -> Keyring {
    let mut keyring = Keyring::new();
    for file in files {
        keyring.add(&fixture(file)).unwrap();
    }
    keyring
}

fn verify(keys: &[&str], signature: &str) -> Result<ferry::trust::openpgp::Verified, VerifyError> {
    keyring(keys).verify(&fixture(signature), now())
}

// ---- skopeo's signatures, verified in process ----

#[test]
fn a_skopeo_signature_of_a_schema2_manifest_verifies_with_the_armored_key() {
    let verified = verify(&["main.pub.asc"], "schema2.signature").unwrap();
    assert_eq!(verified.payload, fixture("schema2.payload"));
    assert_eq!(verified.signer_fingerprint, fingerprint("main"));
    assert_eq!(verified.primary_fingerprint, fingerprint("main"));
    assert_eq!(verified.key_id, fingerprint("main")[24..]);
}

#[test]
fn a_skopeo_signature_of_a_signed_schema1_manifest_verifies_with_the_binary_key() {
    let verified = verify(&["main.pub.gpg"], "schema1.signature").unwrap();
    assert_eq!(verified.payload, fixture("schema1.payload"));
    assert_eq!(verified.signer_fingerprint, fingerprint("main"));
}

#[test]
fn a_skopeo_signature_by_an_rsa_key_with_a_passphrase_verifies() {
    let verified = verify(&["passphrase.pub.asc"], "schema2-passphrase.signature").unwrap();
    assert_eq!(verified.signer_fingerprint, fingerprint("passphrase"));
}

#[test]
fn an_uncompressed_signature_verifies_with_the_same_payload() {
    let verified = verify(&["main.pub.gpg"], "schema2-uncompressed.signature").unwrap();
    assert_eq!(verified.payload, fixture("schema2-uncompressed.payload"));
}

#[test]
fn the_signer_is_found_among_several_keys_in_one_binary_file() {
    let keys = [fixture("other.pub.gpg"), fixture("main.pub.gpg")].concat();
    let keyring = Keyring::from_bytes(&keys).unwrap();
    assert_eq!(
        keyring.fingerprints(),
        [fingerprint("other"), fingerprint("main")]
    );
    let verified = keyring
        .verify(&fixture("schema2.signature"), now())
        .unwrap();
    assert_eq!(verified.signer_fingerprint, fingerprint("main"));
}

#[test]
fn the_signer_is_found_among_several_armored_keys_in_one_file() {
    let keys = [fixture("other.pub.asc"), fixture("main.pub.asc")].concat();
    let keyring = Keyring::from_bytes(&keys).unwrap();
    assert_eq!(
        keyring.fingerprints(),
        [fingerprint("other"), fingerprint("main")]
    );
    assert!(keyring.verify(&fixture("schema2.signature"), now()).is_ok());
}

#[test]
fn a_secret_key_file_contributes_its_public_key() {
    let keyring = Keyring::from_bytes(&fixture("main.sec.asc")).unwrap();
    assert_eq!(keyring.fingerprints(), [fingerprint("main")]);
}

#[test]
fn a_subkey_signature_reports_the_subkey_and_its_primary_key() {
    let verified = verify(&["subkey.pub.gpg"], "schema2-subkey.signature").unwrap();
    assert_eq!(verified.signer_fingerprint, fingerprint("subkey-signing"));
    assert_eq!(verified.primary_fingerprint, fingerprint("subkey"));
}

// ---- refusals ----

#[test]
fn a_signature_by_a_key_not_in_the_keyring_is_by_an_unknown_key() {
    let other = fingerprint("other");
    assert_eq!(
        verify(&["main.pub.asc"], "schema2-other.signature"),
        Err(VerifyError::UnknownKey {
            key_id: other[24..].to_string()
        })
    );
}

#[test]
fn an_empty_keyring_knows_no_signer() {
    let keyring = Keyring::from_bytes(b"").unwrap();
    assert!(keyring.is_empty());
    assert!(matches!(
        keyring.verify(&fixture("schema2.signature"), now()),
        Err(VerifyError::UnknownKey { .. })
    ));
}

#[test]
fn a_tampered_payload_is_a_bad_signature() {
    assert!(matches!(
        verify(&["main.pub.gpg"], "schema2-tampered.signature"),
        Err(VerifyError::BadSignature { fingerprint, .. }) if fingerprint == self::fingerprint("main")
    ));
}

#[test]
fn a_signature_by_a_key_that_has_since_expired_is_refused() {
    assert_eq!(
        verify(&["expired.pub.gpg"], "schema2-expired-key.signature"),
        Err(VerifyError::KeyExpired {
            fingerprint: fingerprint("expired"),
            at: 1_577_923_200, // 2020-01-02T00:00:00Z
        })
    );
}

#[test]
fn a_signature_by_the_expired_key_verifies_at_a_time_it_was_valid() {
    let keyring = keyring(&["expired.pub.gpg"]);
    let signature = fixture("schema2-expired-key.signature");
    // 2020-01-01T18:00:00Z
    let verified = keyring
        .verify(&signature, unix_time(1_577_901_600))
        .unwrap();
    assert_eq!(verified.signer_fingerprint, fingerprint("expired"));
}

#[test]
fn an_expired_signature_is_refused() {
    assert_eq!(
        verify(&["main.pub.gpg"], "schema2-expired-signature.signature"),
        Err(VerifyError::SignatureExpired {
            fingerprint: fingerprint("main"),
            at: 1_591_056_000, // 2020-06-02T00:00:00Z
        })
    );
}

#[test]
fn a_signature_verifies_before_it_expires() {
    let keyring = keyring(&["main.pub.gpg"]);
    let signature = fixture("schema2-expired-signature.signature");
    // 2020-06-01T12:00:00Z
    assert!(keyring.verify(&signature, unix_time(1_591_012_800)).is_ok());
}

#[test]
fn a_signature_by_a_revoked_key_is_refused() {
    assert_eq!(
        verify(&["revoked.pub.gpg"], "schema2-revoked.signature"),
        Err(VerifyError::KeyRevoked {
            fingerprint: fingerprint("revoked")
        })
    );
}

#[test]
fn two_signatures_in_one_message_are_refused_even_when_both_keys_are_known() {
    assert_eq!(
        verify(
            &["main.pub.gpg", "other.pub.gpg"],
            "schema2-two-signers.signature"
        ),
        Err(VerifyError::MultipleSignatures { count: 2 })
    );
}

#[test]
fn every_truncation_of_a_signature_is_refused() {
    let keyring = keyring(&["main.pub.gpg"]);
    for name in ["schema2.signature", "schema2-uncompressed.signature"] {
        let signature = fixture(name);
        for len in 0..signature.len() {
            let result = keyring.verify(&signature[..len], now());
            assert!(result.is_err(), "{name} cut to {len} bytes: {result:?}");
        }
    }
}

#[test]
fn garbage_is_not_a_signed_message() {
    let keyring = keyring(&["main.pub.gpg"]);
    for garbage in [&b""[..], b"invalid signature", &[0xff; 64], &[0x00; 3]] {
        assert!(
            matches!(
                keyring.verify(garbage, now()),
                Err(VerifyError::Malformed { .. })
            ),
            "{garbage:?}"
        );
    }
}

#[test]
fn every_byte_flip_of_a_signature_is_refused_or_still_verifies_the_same_payload() {
    let keyring = keyring(&["main.pub.gpg"]);
    let signature = fixture("schema2.signature");
    for at in 0..signature.len() {
        let mut flipped = signature.clone();
        flipped[at] ^= 0x5a;
        // A flip in an unhashed part (the issuer hint) may leave the
        // signature valid; it must never change what is accepted.
        if let Ok(verified) = keyring.verify(&flipped, now()) {
            assert_eq!(verified.payload, fixture("schema2.payload"), "flip at {at}");
        }
    }
}

#[test]
fn a_signature_larger_than_the_limit_is_refused_unread() {
    let huge = vec![0xa3; MAX_SIGNATURE_SIZE + 1];
    assert_eq!(
        keyring(&["main.pub.gpg"]).verify(&huge, now()),
        Err(VerifyError::TooLarge {
            size: MAX_SIGNATURE_SIZE + 1,
            limit: MAX_SIGNATURE_SIZE
        })
    );
}

/// One OpenPGP packet in the new format, with a five-byte length.
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xc0 | tag, 0xff];
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A compressed data packet (ZIP, raw deflate) holding `inner`.
fn compressed(inner: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(vec![1u8], flate2::Compression::fast());
    encoder.write_all(inner).unwrap();
    packet(8, &encoder.finish().unwrap())
}

/// `schema2-uncompressed.signature`'s packets: one-pass signature,
/// literal data, signature.
fn uncompressed_packets() -> Vec<Vec<u8>> {
    use pgp::packet::PacketParser;
    use pgp::ser::Serialize;
    let bytes = fixture("schema2-uncompressed.signature");
    PacketParser::new(&bytes[..])
        .map(|p| p.unwrap().to_bytes().unwrap())
        .collect()
}

#[test]
fn ten_thousand_signatures_in_one_message_are_refused() {
    let packets = uncompressed_packets();
    let (literal, signature) = (&packets[1], &packets[2]);
    let mut message = signature.repeat(10_000);
    message.extend_from_slice(literal);
    assert!(matches!(
        keyring(&["main.pub.gpg"]).verify(&message, now()),
        Err(VerifyError::Malformed { reason }) if reason.contains("packets")
    ));
}

#[test]
fn ten_thousand_marker_packets_are_refused() {
    let mut message = packet(10, b"PGP").repeat(10_000);
    message.extend_from_slice(&fixture("schema2.signature"));
    assert!(matches!(
        keyring(&["main.pub.gpg"]).verify(&message, now()),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn a_signature_in_the_prefix_form_verifies() {
    // Signature, then literal data: the older "signed message" form.
    let packets = uncompressed_packets();
    let message = [packets[2].clone(), packets[1].clone()].concat();
    let verified = keyring(&["main.pub.gpg"]).verify(&message, now()).unwrap();
    assert_eq!(verified.payload, fixture("schema2-uncompressed.payload"));
}

#[test]
fn a_signature_without_its_one_pass_header_is_refused() {
    let packets = uncompressed_packets();
    let message = [packets[1].clone(), packets[2].clone()].concat();
    assert!(matches!(
        keyring(&["main.pub.gpg"]).verify(&message, now()),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn a_compression_bomb_is_refused_at_the_limit() {
    let inner = packet(11, &vec![0u8; MAX_DECOMPRESSED_SIZE + 1]);
    let message = compressed(&inner);
    assert!(message.len() < 64 << 10, "the bomb is small");
    assert!(matches!(
        keyring(&["main.pub.gpg"]).verify(&message, now()),
        Err(VerifyError::TooLarge { limit, .. }) if limit == MAX_DECOMPRESSED_SIZE
    ));
}

#[test]
fn deeply_nested_compression_is_refused() {
    let mut message = fixture("schema2-uncompressed.signature");
    for _ in 0..10 {
        message = compressed(&message);
    }
    assert!(matches!(
        keyring(&["main.pub.gpg"]).verify(&message, now()),
        Err(VerifyError::Malformed { reason }) if reason.contains("nested")
    ));
}

#[test]
fn an_armored_signature_verifies() {
    let output = Command::new("gpg")
        .args(["--batch", "--enarmor"])
        .stdin(std::fs::File::open(dir().join("schema2.signature")).unwrap())
        .output();
    let Some(output) = output.ok().filter(|o| o.status.success()) else {
        return gpg_missing("an armored signature");
    };
    // gpg --enarmor writes an "ARMORED FILE" block; as a message:
    let armored = String::from_utf8(output.stdout)
        .unwrap()
        .replace("ARMORED FILE", "MESSAGE");
    let verified = keyring(&["main.pub.gpg"])
        .verify(armored.as_bytes(), now())
        .unwrap();
    assert_eq!(verified.payload, fixture("schema2.payload"));
}

// ---- key files ----

#[test]
fn garbage_is_not_a_key_file() {
    assert!(Keyring::from_bytes(b"This is invalid").is_err());
    assert!(Keyring::from_bytes(&[0xff; 100]).is_err());
    assert!(Keyring::from_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n").is_err());
}

#[test]
fn a_pem_public_key_is_not_an_openpgp_key_file() {
    // What cosign writes, in the wrong requirement.
    let pem = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
    assert!(matches!(
        Keyring::from_bytes(pem),
        Err(KeyError::Malformed { .. })
    ));
}

#[test]
fn a_key_file_larger_than_the_limit_is_refused_unread() {
    let huge = vec![0x99; MAX_KEY_FILE_SIZE + 1];
    assert_eq!(
        Keyring::from_bytes(&huge).unwrap_err(),
        KeyError::TooLarge {
            size: MAX_KEY_FILE_SIZE + 1,
            limit: MAX_KEY_FILE_SIZE
        }
    );
}

#[test]
fn a_truncated_key_file_is_refused_or_yields_no_key_that_verifies() {
    let key = fixture("main.pub.gpg");
    for len in 1..key.len() {
        if let Ok(keyring) = Keyring::from_bytes(&key[..len]) {
            // A cut after the self-signature leaves a usable key; a cut
            // inside it leaves none.
            let result = keyring.verify(&fixture("schema2.signature"), now());
            assert!(
                result.is_err() || !keyring.is_empty(),
                "cut at {len}: {result:?}"
            );
        }
    }
}

#[test]
fn an_untrusted_read_names_the_key_that_claims_the_signature() {
    let unverified = read_unverified(&fixture("schema2-other.signature")).unwrap();
    assert_eq!(unverified.key_id, fingerprint("other")[24..]);
    assert_eq!(unverified.payload, fixture("schema2.payload"));
}

// ---- containers/image's own fixtures ----

const CI_KEY: &str = "1D8230F6CDB6A06716E414C1DB72F2188BB46CC8";

fn ci(signature: &str) -> Result<ferry::trust::openpgp::Verified, VerifyError> {
    verify(
        &["containers-image/public-key.gpg"],
        &format!("containers-image/{signature}"),
    )
}

#[test]
fn containers_image_valid_signatures_verify_in_v4_and_v3() {
    for name in ["invalid-blob.signature", "invalid-blob.signature-v3"] {
        let verified = ci(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.payload, b"This is not JSON\n", "{name}");
        assert_eq!(verified.signer_fingerprint, CI_KEY, "{name}");
    }
    let verified = ci("image.signature").unwrap();
    assert!(
        String::from_utf8(verified.payload)
            .unwrap()
            .contains("sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55")
    );
}

#[test]
fn a_second_message_after_a_compressed_packet_of_indeterminate_length_is_ignored() {
    // `double.signature` is two signed messages one after the other, the
    // first a compressed packet running to the end of the file: gpg 2.2
    // reads the first message only, and skopeo 1.9.3 accepts it (see
    // ferry_and_skopeo_agree_on_containers_image_fixtures).
    let verified = ci("double.signature").unwrap();
    assert_eq!(verified.signer_fingerprint, CI_KEY);
}

#[test]
fn containers_image_refused_signatures_are_refused() {
    assert!(matches!(
        ci("expired.signature"),
        Err(VerifyError::SignatureExpired { .. })
    ));
    for name in ["corrupt.signature", "corrupt.signature-v3"] {
        assert!(
            matches!(ci(name), Err(VerifyError::BadSignature { .. })),
            "{name}: {:?}",
            ci(name)
        );
    }
    for name in ["unknown-key.signature", "unknown-key.signature-v3"] {
        assert_eq!(
            ci(name),
            Err(VerifyError::UnknownKey {
                key_id: "BB75E91990DF8F7E".into()
            }),
            "{name}"
        );
    }
    assert_eq!(
        ci("unsigned-literal.signature"),
        Err(VerifyError::Unsigned {
            found: "literal data"
        })
    );
    assert_eq!(
        ci("unsigned-encrypted.signature"),
        Err(VerifyError::Unsigned {
            found: "encrypted data"
        })
    );
}

// ---- signing through gpg ----

/// GnuPG is Debian's `gnupg`, which skopeo's gpgme pulls in: without it,
/// these tests fail unless `FERRY_SKIP_SKOPEO=1` skips the peers.
fn gpg_missing(what: &str) {
    assert!(
        std::env::var(skopeo_check::SKIP_VARIABLE).is_ok_and(|v| v == "1"),
        "gpg is not installed, and {what} needs it (apt-get install gnupg), \
         or set {}=1 to skip tests with peers",
        skopeo_check::SKIP_VARIABLE
    );
    eprintln!("note: gpg is not installed: skipping {what}");
}

/// A temporary GNUPGHOME with some fixture keys imported; its gpg-agent is
/// stopped and the directory removed when dropped.
struct GnupgHome {
    dir: tempfile::TempDir,
}

impl GnupgHome {
    /// `None` (after [`gpg_missing`]) when gpg does not run.
    fn with(keys: &[&str], what: &str) -> Option<Self> {
        if !Command::new("gpg")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            gpg_missing(what);
            return None;
        }
        // Short: gpg-agent's socket path must fit in sockaddr_un.
        let home = GnupgHome {
            dir: tempfile::Builder::new()
                .prefix("ferry-gpg-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir_in("/tmp")
                .unwrap(),
        };
        for key in keys {
            let status = Command::new("gpg")
                .args(["--batch", "--no-tty", "--quiet", "--import"])
                .arg(dir().join(key))
                .env("GNUPGHOME", home.path())
                .output()
                .unwrap();
            assert!(
                status.status.success(),
                "import {key}: {}",
                String::from_utf8_lossy(&status.stderr)
            );
        }
        Some(home)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn gpg(&self) -> Gpg {
        Gpg::new().home(self.path())
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "all"])
            .env("GNUPGHOME", self.path())
            .output();
    }
}

#[test]
fn a_gpg_signature_verifies_in_process() {
    let Some(home) = GnupgHome::with(&["main.sec.asc"], "signing with gpg") else {
        return;
    };
    let payload = fixture("schema2.payload");
    let signature = home
        .gpg()
        .sign(&payload, &fingerprint("main"), None)
        .unwrap();
    let verified = keyring(&["main.pub.asc"])
        .verify(&signature, SystemTime::now())
        .unwrap();
    assert_eq!(verified.payload, payload);
    assert_eq!(verified.signer_fingerprint, fingerprint("main"));
}

#[test]
fn a_gpg_signature_with_the_right_passphrase_verifies() {
    let Some(home) = GnupgHome::with(&["passphrase.sec.asc"], "signing with a passphrase") else {
        return;
    };
    let passphrase = String::from_utf8(fixture("passphrase.txt")).unwrap();
    let signature = home
        .gpg()
        .sign(
            b"payload",
            &fingerprint("passphrase"),
            Some(passphrase.trim_end()),
        )
        .unwrap();
    let verified = keyring(&["passphrase.pub.gpg"])
        .verify(&signature, SystemTime::now())
        .unwrap();
    assert_eq!(verified.payload, b"payload");
}

#[test]
fn a_wrong_passphrase_is_named() {
    let Some(home) = GnupgHome::with(&["passphrase.sec.asc"], "a wrong passphrase") else {
        return;
    };
    let key = fingerprint("passphrase");
    assert_eq!(
        home.gpg()
            .sign(b"payload", &key, Some("not the passphrase")),
        Err(GpgError::BadPassphrase { key })
    );
}

#[test]
fn signing_with_a_key_gpg_does_not_have_names_the_key() {
    let Some(home) = GnupgHome::with(&["main.sec.asc"], "an unknown signing key") else {
        return;
    };
    let key = fingerprint("other");
    assert!(matches!(
        home.gpg().sign(b"payload", &key, None),
        Err(GpgError::UnknownKey { key: named, .. }) if named == key
    ));
}

#[test]
fn signing_with_only_a_public_key_names_the_key() {
    let Some(home) = GnupgHome::with(&["other.pub.gpg"], "a public-only signing key") else {
        return;
    };
    let key = fingerprint("other");
    assert!(matches!(
        home.gpg().sign(b"payload", &key, None),
        Err(GpgError::UnknownKey { key: named, .. }) if named == key
    ));
}

// ---- skopeo verifies what ferry signs, and agrees on the fixtures ----

/// `skopeo standalone-verify MANIFEST REFERENCE FINGERPRINT SIGNATURE`
/// with `home` as its GNUPGHOME: whether it accepts.
fn skopeo_verifies(home: &GnupgHome, manifest: &Path, fingerprint: &str, signature: &Path) -> bool {
    let output = Command::new(skopeo_check::PROGRAM)
        .arg("standalone-verify")
        .arg(manifest)
        .arg(REFERENCE)
        .arg(fingerprint)
        .arg(signature)
        .env("GNUPGHOME", home.path())
        .output()
        .expect("run skopeo");
    output.status.success()
}

#[test]
fn skopeo_verifies_a_signature_ferry_made_through_gpg() {
    if !skopeo_check::available("verifying ferry's signature with skopeo") {
        return;
    }
    let Some(home) = GnupgHome::with(&["main.sec.asc"], "signing for skopeo") else {
        return;
    };
    // The payload skopeo itself made for schema2.json and REFERENCE.
    let signature = home
        .gpg()
        .sign(&fixture("schema2.payload"), &fingerprint("main"), None)
        .unwrap();
    let file = home.path().join("ferry.signature");
    std::fs::write(&file, signature).unwrap();
    assert!(skopeo_verifies(
        &home,
        &dir().join("schema2.json"),
        &fingerprint("main"),
        &file
    ));
}

#[test]
fn ferry_and_skopeo_agree_on_every_fixture_signature() {
    if !skopeo_check::available("comparing verification with skopeo") {
        return;
    }
    let keys = [
        "main.pub.gpg",
        "passphrase.pub.gpg",
        "expired.pub.gpg",
        "revoked.pub.gpg",
        "subkey.pub.gpg",
    ];
    let Some(home) = GnupgHome::with(&keys, "comparing verification with skopeo") else {
        return;
    };
    let keyring = keyring(&keys);
    let cases = [
        ("schema2.signature", "schema2.json", "main"),
        ("schema1.signature", "schema1-signed.json", "main"),
        ("schema2-passphrase.signature", "schema2.json", "passphrase"),
        ("schema2-uncompressed.signature", "schema2.json", "main"),
        ("schema2-subkey.signature", "schema2.json", "subkey-signing"),
        ("schema2-other.signature", "schema2.json", "other"),
        ("schema2-tampered.signature", "schema2.json", "main"),
        ("schema2-expired-key.signature", "schema2.json", "expired"),
        (
            "schema2-expired-signature.signature",
            "schema2.json",
            "main",
        ),
        ("schema2-revoked.signature", "schema2.json", "revoked"),
        ("schema2-two-signers.signature", "schema2.json", "main"),
    ];
    for (signature, manifest, signer) in cases {
        // skopeo verifies at the real time; so does ferry here.
        let ferry = keyring.verify(&fixture(signature), SystemTime::now());
        let ferry_accepts = ferry
            .as_ref()
            .is_ok_and(|v| v.signer_fingerprint == fingerprint(signer));
        let skopeo_accepts = skopeo_verifies(
            &home,
            &dir().join(manifest),
            &fingerprint(signer),
            &dir().join(signature),
        );
        assert_eq!(
            ferry_accepts, skopeo_accepts,
            "{signature}: ferry {ferry:?}, skopeo accepts: {skopeo_accepts}"
        );
    }
    // The subkey's signature is accepted by skopeo for the subkey's
    // fingerprint only, as ferry reports it.
    assert!(!skopeo_verifies(
        &home,
        &dir().join("schema2.json"),
        &fingerprint("subkey"),
        &dir().join("schema2-subkey.signature"),
    ));
}

#[test]
fn ferry_and_skopeo_agree_on_containers_image_fixtures() {
    if !skopeo_check::available("comparing verification with skopeo") {
        return;
    }
    let key = "containers-image/public-key.gpg";
    let Some(home) = GnupgHome::with(&[key], "comparing verification with skopeo") else {
        return;
    };
    let keyring = keyring(&[key]);
    for name in [
        "image.signature",
        "double.signature",
        "corrupt.signature",
        "corrupt.signature-v3",
        "unknown-key.signature",
    ] {
        let signature = dir().join("containers-image").join(name);
        let ferry = keyring.verify(
            &fixture(&format!("containers-image/{name}")),
            SystemTime::now(),
        );
        let output = Command::new(skopeo_check::PROGRAM)
            .arg("standalone-verify")
            .arg(dir().join("containers-image/image.manifest.json"))
            .args(["testing/manifest", CI_KEY])
            .arg(&signature)
            .env("GNUPGHOME", home.path())
            .output()
            .expect("run skopeo");
        assert_eq!(
            ferry.is_ok(),
            output.status.success(),
            "{name}: ferry {ferry:?}, skopeo {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
