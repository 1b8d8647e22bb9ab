//! `--tls-verify=false`: no certificate is checked, so nothing about the
//! system's trust store may matter (nor cost the time of reading it).

use std::path::Path;
use std::process::Command;

use ferry_tests::registry::{Reply, ScriptedServer, ferry_bin, succeeded};

const INDEX: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

#[test]
fn insecure_registry_is_read_whatever_the_system_trust_store_holds() {
    let server = ScriptedServer::start(|request| match request.path() {
        "/v2/" => Reply::ok(b"{}".to_vec()),
        "/v2/x/app/manifests/v1" => Reply::ok(INDEX.to_vec())
            .header("Content-Type", "application/vnd.oci.image.index.v1+json"),
        _ => Reply::not_found(),
    });
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let no_certificates = tempfile::tempdir().unwrap();
    // rustls-native-certs reads only these when they are set: a store
    // whose one certificate does not parse, and an empty directory.
    let output = Command::new(ferry_bin())
        .env("SSL_CERT_FILE", fixtures.join("not-a-certificate.pem"))
        .env("SSL_CERT_DIR", no_certificates.path())
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/x/app:v1", server.host()),
        ])
        .output()
        .unwrap();
    assert_eq!(succeeded(&output).as_bytes(), INDEX);
}
