//! Sigstore (cosign) keys and signing: ferry makes keys that cosign and
//! containers/image read, loads theirs, and signs payloads that
//! containers/image accepts (checked with ferry-core's verifier, which
//! core/tests/sigstore.rs holds to containers/image's fixtures, and, in the
//! ignored `go_peer_*` tests, with an independent Go implementation).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::trust::sigstore::{SigstoreKeyError, SigstoreSigner, generate_key_files};
use ferry_core::trust::payload::EmptyClaim;
use ferry_core::trust::sigstore::{EncryptedPrivateKey, PrivateKeyError, PublicKey, verify};

const PASSPHRASE: &[u8] = b"ferry test passphrase";
const DIGEST: &str = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sigstore")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn generated_key_signs_what_its_public_key_verifies() {
    let pair = SigstoreSigner::generate()
        .unwrap()
        .to_pem(PASSPHRASE)
        .unwrap();
    let signer =
        SigstoreSigner::from_encrypted_pem(pair.private_key.as_bytes(), PASSPHRASE).unwrap();
    let signed = signer
        .sign_manifest(
            DIGEST,
            "example.com/ferry/app:v1",
            Some("ferry 0.1.0"),
            Some(1_700_000_000),
        )
        .unwrap();
    let public = PublicKey::from_pem(pair.public_key.as_bytes()).unwrap();
    let claims = verify(&public, &signed.payload, &signed.signature).unwrap();
    assert_eq!(claims.manifest_digest, DIGEST);
    assert_eq!(claims.docker_reference, "example.com/ferry/app:v1");
    assert_eq!(claims.creator.as_deref(), Some("ferry 0.1.0"));
    assert_eq!(claims.timestamp, Some(1_700_000_000));
}

#[test]
fn generated_key_file_is_what_containers_image_5_23_reads() {
    let pair = SigstoreSigner::generate()
        .unwrap()
        .to_pem(PASSPHRASE)
        .unwrap();
    assert!(
        pair.private_key
            .starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n")
    );
    assert!(pair.public_key.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let envelope = EncryptedPrivateKey::from_pem(pair.private_key.as_bytes()).unwrap();
    // go-tuf, as containers/image 5.23 vendors it, accepts exactly these.
    assert_eq!(
        (envelope.scrypt.log_n, envelope.scrypt.r, envelope.scrypt.p),
        (15, 8, 1)
    );
    assert_eq!(envelope.salt.len(), 32);
}

#[test]
fn each_key_file_has_a_fresh_salt_and_nonce() {
    let signer = SigstoreSigner::generate().unwrap();
    let a =
        EncryptedPrivateKey::from_pem(signer.to_pem(PASSPHRASE).unwrap().private_key.as_bytes())
            .unwrap();
    let b =
        EncryptedPrivateKey::from_pem(signer.to_pem(PASSPHRASE).unwrap().private_key.as_bytes())
            .unwrap();
    assert_ne!(a.salt, b.salt);
    assert_ne!(a.nonce, b.nonce);
}

#[test]
fn go_made_key_loads_and_its_signatures_verify_with_its_public_key() {
    let signer = SigstoreSigner::from_file(&fixture_path("go-made.key"), PASSPHRASE).unwrap();
    let public = PublicKey::from_pem(&fixture("go-made.pub")).unwrap();
    assert_eq!(signer.public_key(), public);
    let signed = signer
        .sign_manifest(DIGEST, "example.com/ferry/app:v1", None, None)
        .unwrap();
    verify(&public, &signed.payload, &signed.signature).unwrap();
}

#[test]
fn wrong_passphrase_is_refused() {
    let err = SigstoreSigner::from_file(&fixture_path("go-made.key"), b"not it").unwrap_err();
    assert!(
        matches!(err, SigstoreKeyError::Key(PrivateKeyError::Decrypt)),
        "{err:?}"
    );
}

#[test]
fn altered_key_file_is_refused_as_undecryptable() {
    let mut envelope = EncryptedPrivateKey::from_pem(&fixture("go-made.key")).unwrap();
    envelope.ciphertext[20] ^= 1;
    let err =
        SigstoreSigner::from_encrypted_pem(envelope.to_pem().as_bytes(), PASSPHRASE).unwrap_err();
    assert!(
        matches!(err, SigstoreKeyError::Key(PrivateKeyError::Decrypt)),
        "{err:?}"
    );
}

#[test]
fn box_that_opens_to_something_other_than_a_p256_key_is_refused() {
    use crypto_secretbox::XSalsa20Poly1305;
    use crypto_secretbox::aead::{Aead, KeyInit};
    let mut envelope = EncryptedPrivateKey::from_pem(&fixture("go-made.key")).unwrap();
    let params = scrypt::Params::new(15, 8, 1).unwrap();
    let mut key = [0u8; 32];
    scrypt::scrypt(PASSPHRASE, &envelope.salt, &params, &mut key).unwrap();
    envelope.ciphertext = XSalsa20Poly1305::new(&key.into())
        .encrypt(&envelope.nonce.into(), &b"not a PKCS #8 key"[..])
        .unwrap();
    let err =
        SigstoreSigner::from_encrypted_pem(envelope.to_pem().as_bytes(), PASSPHRASE).unwrap_err();
    assert!(
        matches!(err, SigstoreKeyError::Key(PrivateKeyError::NotP256Pkcs8)),
        "{err:?}"
    );
}

#[test]
fn hostile_private_key_files_are_errors_not_panics() {
    let huge = vec![b'A'; 8 << 20];
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"garbage".to_vec(),
        huge,
        fixture("go-made.pub"),
        b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\nbm90IGEga2V5\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n".to_vec(),
        // Ciphertext too short to hold a tag.
        EncryptedPrivateKey {
            ciphertext: vec![1, 2, 3],
            ..EncryptedPrivateKey::from_pem(&fixture("go-made.key")).unwrap()
        }
        .to_pem()
        .into_bytes(),
    ];
    for case in cases {
        assert!(matches!(
            SigstoreSigner::from_encrypted_pem(&case, PASSPHRASE),
            Err(SigstoreKeyError::Key(_))
        ));
    }
}

#[test]
fn manifest_without_reference_is_not_signed() {
    let signer = SigstoreSigner::generate().unwrap();
    let err = signer.sign_manifest(DIGEST, "", None, None).unwrap_err();
    assert!(matches!(
        err,
        SigstoreKeyError::Payload(EmptyClaim {
            field: "docker-reference"
        })
    ));
}

#[test]
fn generate_key_files_writes_private_and_pub_as_skopeo_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("mykey");
    let (private, public) = generate_key_files(&prefix, PASSPHRASE).unwrap();
    assert_eq!(private, dir.path().join("mykey.private"));
    assert_eq!(public, dir.path().join("mykey.pub"));
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let signer = SigstoreSigner::from_file(&private, PASSPHRASE).unwrap();
    let key = PublicKey::from_pem(&std::fs::read(&public).unwrap()).unwrap();
    assert_eq!(signer.public_key(), key);
}

#[test]
fn generate_key_files_refuses_to_overwrite_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("mykey");
    std::fs::write(dir.path().join("mykey.pub"), b"keep me").unwrap();
    let err = generate_key_files(&prefix, PASSPHRASE).unwrap_err();
    assert!(
        matches!(err, SigstoreKeyError::Exists(ref p) if p.ends_with("mykey.pub")),
        "{err:?}"
    );
    assert!(!dir.path().join("mykey.private").exists());
    assert_eq!(
        std::fs::read(dir.path().join("mykey.pub")).unwrap(),
        b"keep me"
    );
}

// --- against the Go peer -------------------------------------------------
//
// Debian's skopeo 1.9.3 has neither `generate-sigstore-key` nor working
// `--sign-by-sigstore-private-key` (its sigstore code is stubbed out), so
// these run fixtures/sigstore/go-peer/peer.go, built from Go's standard
// library and golang.org/x/crypto as containers/image is. They need
// `apt-get install golang-go golang-golang-x-crypto-dev`:
//   cargo test -p ferry --test sigstore -- --ignored

fn go_peer(args: &[&str]) -> std::process::Output {
    Command::new("go")
        .arg("run")
        .arg(fixture_path("go-peer/peer.go"))
        .args(args)
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .output()
        .expect("run go (apt-get install golang-go golang-golang-x-crypto-dev)")
}

#[test]
#[ignore = "needs Go and golang.org/x/crypto (Debian golang-golang-x-crypto-dev)"]
fn go_peer_signs_with_a_ferry_generated_key_and_ferry_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate_key_files(&dir.path().join("k"), PASSPHRASE).unwrap();
    let passfile = dir.path().join("pass");
    std::fs::write(&passfile, PASSPHRASE).unwrap();
    let payload = dir.path().join("payload");
    let signed = SigstoreSigner::from_file(&private, PASSPHRASE)
        .unwrap()
        .sign_manifest(DIGEST, "example.com/a:b", None, None)
        .unwrap();
    std::fs::write(&payload, &signed.payload).unwrap();
    let out = go_peer(&[
        "sign",
        private.to_str().unwrap(),
        passfile.to_str().unwrap(),
        payload.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let go_signature = String::from_utf8(out.stdout).unwrap();
    let key = PublicKey::from_pem(&std::fs::read(&public).unwrap()).unwrap();
    verify(&key, &signed.payload, go_signature.trim()).unwrap();
}

#[test]
#[ignore = "needs Go and golang.org/x/crypto (Debian golang-golang-x-crypto-dev)"]
fn go_peer_verifies_what_ferry_signs() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = generate_key_files(&dir.path().join("k"), PASSPHRASE).unwrap();
    let signed = SigstoreSigner::from_file(&private, PASSPHRASE)
        .unwrap()
        .sign_manifest(DIGEST, "example.com/a:b", Some("ferry"), Some(1))
        .unwrap();
    let payload = dir.path().join("payload");
    std::fs::write(&payload, &signed.payload).unwrap();
    let out = go_peer(&[
        "verify",
        public.to_str().unwrap(),
        payload.to_str().unwrap(),
        &signed.signature,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a tampered payload is refused there too.
    std::fs::write(&payload, b"{}").unwrap();
    let out = go_peer(&[
        "verify",
        public.to_str().unwrap(),
        payload.to_str().unwrap(),
        &signed.signature,
    ]);
    assert!(!out.status.success());
}
