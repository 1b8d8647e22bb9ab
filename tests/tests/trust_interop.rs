//! ferry and skopeo judge the same images by the same policies alike.
//!
//! skopeo 1.9.3 (containers/image 5.23 through gpgme) signs images in a
//! registry with lookaside signature storage; then, for a matrix of
//! policies (every requirement and identity rule) and images (signed,
//! unsigned, signed by another key, by two keys, under another tag, in a
//! mirror, with a changed manifest), `ferry verify` and `skopeo copy`
//! must both allow or both refuse, and both must give the answer the
//! policy's specification gives. ferry also copies under the policy and
//! must refuse exactly where it verifies a refusal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferry_tests::registry::{DemoImage, Registry, Setup, ferry, skopeo, succeeded};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../native/tests/fixtures/trust")
        .join(name)
}

/// The fingerprint of fixture key `name` (from `fingerprints`).
fn fingerprint(name: &str) -> String {
    let text = std::fs::read_to_string(fixture("fingerprints")).unwrap();
    text.lines()
        .find_map(|l| {
            let (n, f) = l.split_once(char::is_whitespace)?;
            (n.trim_end_matches(':') == name).then(|| f.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no fingerprint for {name} in:\n{text}"))
}

/// A temporary GnuPG home holding the fixtures' secret keys, so skopeo
/// can sign with them.
struct GnupgHome(tempfile::TempDir);

impl GnupgHome {
    fn with_keys(names: &[&str]) -> GnupgHome {
        let home = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        for name in names {
            let out = Command::new("gpg")
                .env("GNUPGHOME", home.path())
                .args(["--batch", "--no-tty", "--quiet", "--import"])
                .arg(fixture(&format!("{name}.sec.asc")))
                .output()
                .expect("run gpg (install gnupg)");
            assert!(
                out.status.success(),
                "gpg --import {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        GnupgHome(home)
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.0.path())
            .args(["--kill", "all"])
            .output();
    }
}

/// skopeo with a policy (the harness's `skopeo` is `--insecure-policy`).
fn skopeo_with_policy(policy: &Path, args: &[&str]) -> Output {
    ferry_tests::skopeo::require("judging images by a policy, as the peer");
    Command::new("timeout")
        .args(["--kill-after=10", "120", "skopeo", "--policy"])
        .arg(policy)
        .args(args)
        .output()
        .expect("run skopeo")
}

/// The world of the test: a registry whose `trust/` repositories keep
/// their signatures in a lookaside directory, and the images in it.
struct World {
    registry: Registry,
    scratch: tempfile::TempDir,
    gnupg: GnupgHome,
}

impl World {
    fn registries_d(&self) -> PathBuf {
        self.scratch.path().join("registries.d")
    }

    fn docker(&self, repository_and_tag: &str) -> String {
        format!(
            "docker://{}/trust/{repository_and_tag}",
            self.registry.host()
        )
    }

    fn name(&self, repository: &str) -> String {
        format!("{}/trust/{repository}", self.registry.host())
    }

    /// skopeo copy without a policy, signing with `sign_by` (fingerprints).
    fn skopeo_copy(&self, source: &str, destination: &str, sign_by: &[&str]) {
        let registries_d = self.registries_d();
        let mut args = vec![
            "copy".to_string(),
            "--src-tls-verify=false".into(),
            "--dest-tls-verify=false".into(),
            "--registries.d".into(),
            registries_d.display().to_string(),
        ];
        for fpr in sign_by {
            args.push("--sign-by".into());
            args.push(fpr.to_string());
        }
        args.push(source.into());
        args.push(destination.into());
        let mut command = Command::new("skopeo");
        command
            .env("GNUPGHOME", self.gnupg.0.path())
            .arg("--insecure-policy")
            .args(&args);
        let out = command.output().expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// skopeo copy without a policy, signing with `sign_by` for
    /// `identity` (`--sign-identity`).
    fn skopeo_copy_as(&self, source: &str, destination: &str, sign_by: &str, identity: &str) {
        let out = Command::new("skopeo")
            .env("GNUPGHOME", self.gnupg.0.path())
            .args([
                "--insecure-policy",
                "copy",
                "--sign-by",
                sign_by,
                "--sign-identity",
                identity,
            ])
            .args([source, destination])
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn policy(&self, name: &str, json: &str) -> PathBuf {
        let path = self.scratch.path().join(format!("{name}.json"));
        std::fs::write(&path, json).unwrap();
        path
    }

    /// Whether `ferry verify` allows `image`; panics on exit status 2.
    fn ferry_allows(&self, policy: &Path, image: &str) -> bool {
        let out = ferry(&[
            "verify",
            "--policy",
            &policy.display().to_string(),
            "--tls-verify=false",
            "--registries.d",
            &self.registries_d().display().to_string(),
            image,
        ]);
        match out.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!(
                "ferry verify {image}: unusable input: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// Whether `ferry copy` under the policy copies `image`; a refused
    /// copy must leave nothing behind.
    fn ferry_copies(&self, policy: &Path, image: &str) -> bool {
        let target = tempfile::tempdir().unwrap();
        let out_dir = target.path().join("out");
        let out = ferry(&[
            "--policy",
            &policy.display().to_string(),
            "copy",
            "--progress",
            "none",
            "--src-tls-verify=false",
            "--registries.d",
            &self.registries_d().display().to_string(),
            image,
            &format!("dir:{}", out_dir.display()),
        ]);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("is not allowed"),
                "ferry copy {image}: {stderr}"
            );
            assert!(
                !out_dir.exists(),
                "a refused copy wrote {}",
                out_dir.display()
            );
        }
        out.status.success()
    }

    /// Whether `skopeo copy` under the policy copies `image`.
    fn skopeo_allows(&self, policy: &Path, image: &str) -> bool {
        let target = tempfile::tempdir().unwrap();
        let out = skopeo_with_policy(
            policy,
            &[
                "copy",
                "--src-tls-verify=false",
                "--registries.d",
                &self.registries_d().display().to_string(),
                image,
                &format!("dir:{}", target.path().join("out").display()),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            // A refusal, not a failure of anything else.
            assert!(
                stderr.contains("rejected")
                    || stderr.contains("not accepted")
                    || stderr.contains("signature")
                    || stderr.contains("Signature"),
                "skopeo failed for another reason on {image}: {stderr}"
            );
        }
        out.status.success()
    }
}

fn world() -> World {
    let registry = Registry::start(Setup::plain());
    let scratch = tempfile::tempdir().unwrap();
    let top = scratch.path().join("lookaside");
    let registries_d = scratch.path().join("registries.d");
    std::fs::create_dir_all(&registries_d).unwrap();
    std::fs::write(
        registries_d.join("trust.yaml"),
        format!(
            "docker:\n  {host}/trust:\n    lookaside: file://{top}\n    lookaside-staging: file://{top}\n",
            host = registry.host(),
            top = top.display()
        ),
    )
    .unwrap();
    let gnupg = GnupgHome::with_keys(&["main", "other"]);
    World {
        registry,
        scratch,
        gnupg,
    }
}

#[test]
fn ferry_and_skopeo_agree_on_a_matrix_of_policies_and_signed_images() {
    let world = world();
    let main = fingerprint("main");
    let other = fingerprint("other");
    // One image (the demo's linux/amd64 instance), in the forms the
    // matrix needs.
    let demo = DemoImage::make();
    let single = world.scratch.path().join("single");
    succeeded(&skopeo([
        "copy",
        "--override-arch",
        "amd64",
        "--override-os",
        "linux",
        &demo.dir_ref(),
        &format!("dir:{}", single.display()),
    ]));
    let single = format!("dir:{}", single.display());
    world.skopeo_copy(&single, &world.docker("signed:v1"), &[&main]);
    world.skopeo_copy(&single, &world.docker("unsigned:v1"), &[]);
    world.skopeo_copy(&single, &world.docker("other:v1"), &[&other]);
    // Two signatures: skopeo signs with one key per copy (the last
    // --sign-by wins), and keeps the signatures it copies.
    let by_other = format!("dir:{}", world.scratch.path().join("by-other").display());
    world.skopeo_copy_as(&single, &by_other, &other, &world.name("two:v1"));
    world.skopeo_copy(&by_other, &world.docker("two:v1"), &[&main]);
    // Another tag and a mirror, carrying signatures made for signed:v1.
    world.skopeo_copy(&world.docker("signed:v1"), &world.docker("signed:v2"), &[]);
    world.skopeo_copy(&world.docker("signed:v1"), &world.docker("mirror:v1"), &[]);

    let key = |name: &str| fixture(&format!("{name}.pub.gpg")).display().to_string();
    let signed_by = |keys: &str, identity: &str| {
        format!(
            r#"{{"default": [{{"type": "signedBy", "keyType": "GPGKeys", {keys}{identity}}}]}}"#
        )
    };
    let identity = |json: &str| format!(r#", "signedIdentity": {json}"#);
    let main_key = format!(r#""keyPath": "{}""#, key("main"));
    let key_data = {
        let bytes = std::fs::read(fixture("main.pub.gpg")).unwrap();
        format!(
            r#""keyData": "{}""#,
            ferry_core::base64::encode_padded(&bytes, ferry_core::base64::Alphabet::Standard)
        )
    };
    let policies: Vec<(&str, String)> = vec![
        (
            "insecure",
            r#"{"default": [{"type": "insecureAcceptAnything"}]}"#.into(),
        ),
        ("reject", r#"{"default": [{"type": "reject"}]}"#.into()),
        ("main", signed_by(&main_key, "")),
        (
            "other",
            signed_by(&format!(r#""keyPath": "{}""#, key("other")), ""),
        ),
        (
            "either",
            signed_by(
                &format!(r#""keyPaths": ["{}", "{}"]"#, key("other"), key("main")),
                "",
            ),
        ),
        ("key-data", signed_by(&key_data, "")),
        (
            "exact",
            signed_by(&main_key, &identity(r#"{"type": "matchExact"}"#)),
        ),
        (
            "repository",
            signed_by(&main_key, &identity(r#"{"type": "matchRepository"}"#)),
        ),
        (
            "exact-repository",
            signed_by(
                &main_key,
                &identity(&format!(
                    r#"{{"type": "exactRepository", "dockerRepository": "{}"}}"#,
                    world.name("signed")
                )),
            ),
        ),
        (
            "exact-reference",
            signed_by(
                &main_key,
                &identity(&format!(
                    r#"{{"type": "exactReference", "dockerReference": "{}:v1"}}"#,
                    world.name("signed")
                )),
            ),
        ),
        (
            "remap",
            signed_by(
                &main_key,
                &identity(&format!(
                    r#"{{"type": "remapIdentity", "prefix": "{}", "signedPrefix": "{}"}}"#,
                    world.name("mirror"),
                    world.name("signed")
                )),
            ),
        ),
    ];
    let images = [
        "signed:v1",
        "unsigned:v1",
        "other:v1",
        "two:v1",
        "signed:v2",
        "mirror:v1",
    ];
    // What the policies' specification says, image by image in the order
    // above.
    let expected: &[(&str, [bool; 6])] = &[
        ("insecure", [true, true, true, true, true, true]),
        ("reject", [false, false, false, false, false, false]),
        // The default identity: this tag, exactly; any of the
        // signatures may be the good one.
        ("main", [true, false, false, true, false, false]),
        ("other", [false, false, true, true, false, false]),
        ("either", [true, false, true, true, false, false]),
        ("key-data", [true, false, false, true, false, false]),
        ("exact", [true, false, false, true, false, false]),
        // Any tag of the same repository.
        ("repository", [true, false, false, true, true, false]),
        // Whatever the image is called, the signed name must be this.
        ("exact-repository", [true, false, false, false, true, true]),
        ("exact-reference", [true, false, false, false, true, true]),
        // The mirror's name, read as the signed repository's.
        ("remap", [true, false, false, true, false, true]),
    ];
    let mut disagreements = Vec::new();
    for (name, json) in &policies {
        let policy = world.policy(name, json);
        let row = expected.iter().find(|(n, _)| n == name).unwrap().1;
        for (image, want) in images.iter().zip(row) {
            let reference = world.docker(image);
            let by_ferry = world.ferry_allows(&policy, &reference);
            let by_skopeo = world.skopeo_allows(&policy, &reference);
            let copied = world.ferry_copies(&policy, &reference);
            if by_ferry != want || by_skopeo != want || copied != want {
                disagreements.push(format!(
                    "policy {name}, image {image}: specification {want}, ferry verify {by_ferry}, ferry copy {copied}, skopeo {by_skopeo}"
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn skopeo_accepts_what_ferry_signs_a_whole_list_and_each_instance() {
    let world = world();
    let main = fingerprint("main");
    let demo = DemoImage::make();
    let target = world.docker("ferry-signed:v1");
    let out = ferry_tests::registry::ferry_command()
        .env("GNUPGHOME", world.gnupg.0.path())
        .args([
            "--insecure-policy",
            "copy",
            "--all",
            "--progress",
            "none",
            "--dest-tls-verify=false",
            "--registries.d",
            &world.registries_d().display().to_string(),
            "--sign-by",
            &main,
            &demo.dir_ref(),
            &target,
        ])
        .output()
        .unwrap();
    succeeded(&out);
    let policy = |key: &str| {
        world.policy(
            key,
            &format!(
                r#"{{"default": [{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{}"}}]}}"#,
                fixture(&format!("{key}.pub.gpg")).display()
            ),
        )
    };
    let copy_all = |policy: &Path| {
        let dir = tempfile::tempdir().unwrap();
        skopeo_with_policy(
            policy,
            &[
                "copy",
                "--all",
                "--src-tls-verify=false",
                "--registries.d",
                &world.registries_d().display().to_string(),
                &target,
                &format!("dir:{}", dir.path().join("out").display()),
            ],
        )
    };
    // skopeo judges every instance it copies.
    let allowed = copy_all(&policy("main"));
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let refused = copy_all(&policy("other"));
    assert!(!refused.status.success());
    // ferry judges the list too, and every instance.
    let verify_all = |policy: &Path| {
        ferry(&[
            "verify",
            "--all",
            "--json",
            "--policy",
            &policy.display().to_string(),
            "--tls-verify=false",
            "--registries.d",
            &world.registries_d().display().to_string(),
            &target,
        ])
    };
    let verdicts: serde_json::Value =
        serde_json::from_slice(&verify_all(&policy("main")).stdout).unwrap();
    assert_eq!(verdicts["allowed"], true, "{verdicts}");
    assert_eq!(
        verdicts["images"].as_array().unwrap().len(),
        5,
        "{verdicts}"
    );
    assert_eq!(verify_all(&policy("other")).status.code(), Some(1));
}
