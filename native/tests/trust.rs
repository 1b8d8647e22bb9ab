//! Judging and signing through the command line, with hostile input:
//! every refusal says what and where, exits as documented, and writes
//! nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{ferry, ferry_command};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trust")
        .join(name)
}

fn fingerprint(name: &str) -> String {
    std::fs::read_to_string(fixture("fingerprints"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_string))
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The demo's linux/amd64 image in `dir:` form.
fn single_image(dir: &Path) -> String {
    let reference = format!("dir:{}", dir.join("single").display());
    let out = ferry(&[
        "copy",
        "--progress",
        "none",
        "--override-os",
        "linux",
        "--override-arch",
        "amd64",
        "demo:",
        &reference,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    reference
}

fn write_policy(dir: &Path, json: &str) -> String {
    let path = dir.join("policy.json");
    std::fs::write(&path, json).unwrap();
    path.display().to_string()
}

fn signed_by_main(dir: &Path) -> String {
    write_policy(
        dir,
        &format!(
            r#"{{"default": [{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{}",
                 "signedIdentity": {{"type": "exactRepository", "dockerRepository": "example.invalid/app"}}}}]}}"#,
            fixture("main.pub.gpg").display()
        ),
    )
}

fn verify(policy: &str, image: &str) -> Output {
    ferry(&["verify", "--policy", policy, image])
}

#[test]
fn a_malformed_policy_is_unusable_input_naming_the_file_and_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let image = single_image(dir.path());
    let policy = write_policy(
        dir.path(),
        r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}"#,
    );
    let out = verify(&policy, &image);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains(&policy) && text.contains("/default/0"),
        "{text}"
    );
    // And a copy judged by it does not start.
    let target = dir.path().join("out");
    let out = ferry(&[
        "--policy",
        &policy,
        "copy",
        &image,
        &format!("dir:{}", target.display()),
    ]);
    assert!(!out.status.success());
    assert!(!target.exists());
}

#[test]
fn a_missing_policy_stops_the_copy_and_names_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let image = single_image(dir.path());
    let out = ferry(&[
        "--policy",
        "/nonexistent/policy.json",
        "copy",
        &image,
        "dir:/nonexistent/out",
    ]);
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains("/nonexistent/policy.json") && text.contains("--insecure-policy"),
        "{text}"
    );
}

#[test]
fn ten_thousand_bad_signatures_are_each_refused_and_summarized() {
    let dir = tempfile::tempdir().unwrap();
    let image = single_image(dir.path());
    let image_dir = dir.path().join("single");
    let garbage = [0xa3, 0x01, 0x02, 0x03];
    for n in 1..=10_000 {
        std::fs::write(image_dir.join(format!("signature-{n}")), garbage).unwrap();
    }
    let out = verify(&signed_by_main(dir.path()), &image);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("and 9995 more"), "{text}");
}

#[test]
fn truncated_huge_and_wrong_format_signatures_and_keys_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let image = single_image(dir.path());
    let image_dir = dir.path().join("single");
    let good = std::fs::read(fixture("schema2.signature")).unwrap();
    std::fs::write(image_dir.join("signature-1"), &good[..good.len() / 2]).unwrap();
    std::fs::write(image_dir.join("signature-2"), vec![0xa3; 5 << 20]).unwrap();
    let out = verify(&signed_by_main(dir.path()), &image);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("1: ") && text.contains("2: "), "{text}");
    // A cosign public key where an OpenPGP keyring belongs.
    let key = dir.path().join("cosign.pub");
    std::fs::write(
        &key,
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let policy = write_policy(
        dir.path(),
        &format!(
            r#"{{"default": [{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{}"}}]}}"#,
            key.display()
        ),
    );
    let out = verify(&policy, &image);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// A GnuPG home with the fixture key `main`.
fn gnupg_home(dir: &Path) -> PathBuf {
    let home = dir.join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let out = std::process::Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--quiet", "--import"])
        .arg(fixture("main.sec.asc"))
        .output()
        .expect("gpg");
    assert!(out.status.success());
    home
}

fn kill_agent(home: &Path) {
    let _ = std::process::Command::new("gpgconf")
        .env("GNUPGHOME", home)
        .args(["--kill", "all"])
        .output();
}

/// `ferry copy --sign-by KEY --sign-identity example.invalid/app:v1
/// IMAGE dir:TARGET`, with `home` as GNUPGHOME.
fn copy_signed_by(home: &Path, key: &str, image: &str, target: &Path) -> Output {
    let out = ferry_command()
        .env("GNUPGHOME", home)
        .args(["copy", "--progress", "none", "--sign-by", &fingerprint(key)])
        .args(["--sign-identity", "example.invalid/app:v1", image])
        .arg(format!("dir:{}", target.display()))
        .output()
        .unwrap();
    kill_agent(home);
    out
}

#[test]
fn what_ferry_signs_ferry_verifies_and_a_changed_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = single_image(dir.path());
    let home = gnupg_home(dir.path());
    let signed = dir.path().join("signed");
    let out = copy_signed_by(&home, "main", &image, &signed);
    assert!(out.status.success(), "{}", stderr(&out));
    let policy = signed_by_main(dir.path());
    let signed_ref = format!("dir:{}", signed.display());
    assert_eq!(verify(&policy, &signed_ref).status.code(), Some(0));
    // The same signature over a manifest with one more space.
    let manifest = signed.join("manifest.json");
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes.push(b' ');
    std::fs::write(&manifest, bytes).unwrap();
    let out = verify(&policy, &signed_ref);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not this manifest"));
}

#[test]
fn signing_with_a_key_gpg_does_not_have_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = single_image(dir.path());
    let home = gnupg_home(dir.path());
    let target = dir.path().join("out");
    let out = copy_signed_by(&home, "other", &image, &target);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--sign-by"), "{}", stderr(&out));
    assert!(!target.exists());
}

#[test]
fn a_standalone_signature_verifies_with_ferry_and_with_skopeo() {
    let dir = tempfile::tempdir().unwrap();
    let home = gnupg_home(dir.path());
    let manifest = fixture("schema2.json");
    let signature = dir.path().join("signature");
    let identity = "registry.example/ferry/test:v1";
    let out = ferry_command()
        .env("GNUPGHOME", &home)
        .arg("standalone-sign")
        .arg(&manifest)
        .args([identity, &fingerprint("main"), "--output"])
        .arg(&signature)
        .output()
        .unwrap();
    kill_agent(&home);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ferry_command()
        .arg("standalone-verify")
        .arg(&manifest)
        .args([identity, &fingerprint("main")])
        .arg(&signature)
        .arg("--public-key-file")
        .arg(fixture("main.pub.asc"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = std::process::Command::new("skopeo")
        .env("GNUPGHOME", &home)
        .arg("standalone-verify")
        .arg(&manifest)
        .args([identity, &fingerprint("main")])
        .arg(&signature)
        .output()
        .expect("skopeo");
    kill_agent(&home);
    assert!(out.status.success(), "{}", stderr(&out));
}
